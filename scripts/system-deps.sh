#!/usr/bin/env bash
# Debian packages Storehub builds against or its tests drive. Installs only what is missing.
#   libxml2-dev libxmlsec1-dev pkg-config: lxml and xmlsec are built from source against one libxml2
#   postgresql redis-server: the test fixtures start private servers when none listens
#   chromium chromium-driver: the browser tests (tests/clients/) drive the real pages with it
#   xmlsec1 openssl: independent verifiers of our XML signatures and TED stamps (tests/fiscal/)
#   nginx: tests/test_compose.py runs compose.yaml's load balancer configuration in a real nginx
set -euo pipefail
packages=(build-essential pkg-config libxml2-dev libxslt1-dev libxmlsec1-dev libxmlsec1-openssl
          postgresql redis-server chromium chromium-driver xmlsec1 openssl nginx)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
