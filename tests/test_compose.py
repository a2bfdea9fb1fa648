"""compose.yaml (the scaled stack), its load balancer and the Dockerfile, checked without Docker.

* The file follows the Compose Specification: its JSON schema as check-jsonschema vendors it, after the
  variable interpolation Compose does (only the variables the README names, `$$` for a literal `$`).
* Every `storehub` command parses with the CLI's own parser; every other image is pinned to a tag; the
  Dockerfile's entry point is `storehub` and it installs what the wheel is made of.
* The hub processes get hub settings only, and those load; every host they name is a service of the file.
* The load balancer: its tenant key agrees with the hub's token formats, `nginx -t` accepts its
  configuration, and a real nginx in front of two backends sends all of a tenant's sockets and requests,
  a browser's and a device agent's alike, to one of them, and to the other when that one is down.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import copy
import importlib.util
import io
import json
import re
import shutil
import socket
import subprocess
import tomllib
import uuid
from collections.abc import AsyncIterator, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from hub.auth.tokens import SESSION_COOKIE, bearer_token, new_secret, session_cookie_value
from hub.cli import _parser
from hub.settings import ENV_VARS, NOT_HUB_SETTINGS, Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "compose.yaml").read_text(encoding="utf-8")
RAW: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)

# What a person sets before `docker compose up` (README, "Scaled deployment"); nothing else is read.
REQUIRED_VARIABLES = {"STOREHUB_SECRET_KEY", "POSTGRES_PASSWORD"}
OPTIONAL_VARIABLES = {"STOREHUB_PUBLIC_URL"}
SAMPLE_ENV = {"STOREHUB_SECRET_KEY": "s" * 48, "POSTGRES_PASSWORD": "0123456789abcdef0123456789abcdef"}

STOREHUB_IMAGE = "storehub:local"
EXPECTED_STOREHUB_SERVICES = {"migrate", "seed-demo", "hub1", "hub2", "worker", "sii-sim", "devices"}
PINNED_IMAGES = {"postgres": "postgres:16", "redis": "redis:7", "kafka": "apache/kafka:", "lb": "nginx:"}

# Compose's interpolation: $$ is a literal $; ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error}.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[_A-Za-z][_A-Za-z0-9]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[_A-Za-z][_A-Za-z0-9]*)"
    r"|(?P<invalid>))"
)


class MissingVariableError(Exception):
    pass


def interpolate(value: Any, env: Mapping[str, str], uses: dict[str, set[str]] | None = None) -> Any:
    """``value`` with every string interpolated as Compose does. ``uses`` gets each variable's forms
    (``""`` plain, ``":-"``, ``":?"``...). An unset plain variable becomes empty, as Compose makes it."""
    uses = {} if uses is None else uses
    if isinstance(value, dict):
        return {key: interpolate(item, env, uses) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env, uses) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        if name is None:
            raise AssertionError(f"a lone '$' in {value!r}: write '$$' for a literal one")
        found, op, arg = env.get(name), match["op"] or "", match["arg"]
        uses.setdefault(name, set()).add(op)
        if op == ":-":
            return found or arg
        if op == "-":
            return arg if found is None else found
        if op in (":?", "?") and (found is None or (op == ":?" and not found)):
            raise MissingVariableError(f"{name}: {arg}")
        return found or ""

    return _VARIABLE.sub(one, value)


COMPOSE: dict[str, Any] = interpolate(RAW, SAMPLE_ENV)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
STOREHUB_SERVICES = sorted(name for name, s in SERVICES.items() if s.get("image") == STOREHUB_IMAGE)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def parse_storehub(args: list[str]) -> argparse.Namespace:
    """``storehub ARGS`` through the CLI's own parser; an unknown command or option fails the test."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return _parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"`storehub {' '.join(args)}` does not parse: {errors.getvalue().strip()}")


def hub_port(service: Mapping[str, Any]) -> int:
    args = parse_storehub(service["command"])
    settings = load_settings(env=environment(service))
    return int(args.port or settings.port)


# -- the Compose Specification ---------------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    # Read as data: importing check_jsonschema would load its CLI (click) for nothing.
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec is not None and spec.submodule_search_locations, "check-jsonschema is a dev dependency"
    path = Path(next(iter(spec.submodule_search_locations))) / "builtin_schemas/vendor/compose-spec.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$id"] == "compose_spec.json" and schema["title"] == "Compose Specification"
    # Inline configs (`content:`), which this file uses, are recent: an old copy of the schema is not enough.
    assert "content" in schema["$defs"]["config"]["properties"]
    return schema


def schema_errors(document: Any) -> list[str]:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_yaml_follows_the_compose_specification() -> None:
    assert schema_errors(COMPOSE) == []


def test_the_schema_check_catches_a_mistake() -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["hub1"]["restarts"] = "always"  # a typo Compose itself would refuse
    broken["configs"]["nginx-lb"]["contents"] = "x"
    errors = schema_errors(broken)
    assert any(e.startswith("services/hub1") for e in errors), errors
    assert any(e.startswith("configs/nginx-lb") for e in errors), errors


def test_only_the_documented_variables_are_read_and_the_secrets_are_required() -> None:
    uses: dict[str, set[str]] = {}
    interpolate(RAW, SAMPLE_ENV, uses)
    # An nginx or shell `$name` left unescaped would show up here as a variable of Compose's.
    assert set(uses) == REQUIRED_VARIABLES | OPTIONAL_VARIABLES
    for name in OPTIONAL_VARIABLES:
        assert uses[name] == {":-"}, name  # a default wherever it is used
    for name in REQUIRED_VARIABLES:
        assert ":?" in uses[name], name  # Compose stops with the message when it is not set
        with pytest.raises(MissingVariableError, match=name):
            interpolate(RAW, {k: v for k, v in SAMPLE_ENV.items() if k != name})
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Scaled deployment (compose.yaml)", 1)[1].split("\n## ", 1)[0]
    for name in REQUIRED_VARIABLES:
        assert f"`{name}`" in section


def test_dependencies_exist_and_wait_for_what_they_need() -> None:
    for name, service in SERVICES.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on {target}, which is not a service"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target}'s health: it has none"
            if rule["condition"] == "service_completed_successfully":
                assert SERVICES[target].get("restart") == "no", f"{target} is a one-shot: restart 'no'"
    for hub in hub_services():
        assert SERVICES[hub]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert set(SERVICES["lb"]["depends_on"]) == set(hub_services())
    for name, service in SERVICES.items():
        if service.get("restart") != "no":
            assert service.get("restart") in ("always", "unless-stopped", "on-failure"), name
    volumes = {
        name: [v.split(":", 1)[1] for v in s.get("volumes", [])]
        for name, s in SERVICES.items()
        if "volumes" in s
    }
    assert volumes == {"postgres": ["/var/lib/postgresql/data"], "kafka": ["/var/lib/kafka/data"]}


# -- the commands ----------------------------------------------------------------------------------------


def hub_services() -> list[str]:
    return [name for name in STOREHUB_SERVICES if SERVICES[name]["command"][0] == "serve"]


def test_the_stack_has_its_services() -> None:
    assert set(STOREHUB_SERVICES) == EXPECTED_STOREHUB_SERVICES
    assert hub_services() == ["hub1", "hub2"]
    assert set(SERVICES) == EXPECTED_STOREHUB_SERVICES | set(PINNED_IMAGES)


@pytest.mark.parametrize("name", STOREHUB_SERVICES)
def test_each_storehub_command_exists(name: str) -> None:
    service = SERVICES[name]
    assert service["build"] == "." and "entrypoint" not in service  # the image's: `storehub`
    assert callable(parse_storehub(service["command"]).run)


@pytest.mark.parametrize("name", sorted(PINNED_IMAGES))
def test_other_images_are_pinned_to_a_tag(name: str) -> None:
    image = SERVICES[name]["image"]
    _, _, tag = image.rpartition(":")
    assert "/" not in tag and tag not in ("", "latest") and re.match(r"^\d", tag), image
    assert image.startswith(PINNED_IMAGES[name]), image


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.startswith("#")))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def test_the_dockerfile_runs_storehub_as_a_user_and_installs_as_make_env_does() -> None:
    steps = dockerfile_instructions()
    arguments = dict(value.split("=", 1) for kind, value in steps if kind == "ARG" and "=" in value)
    assert arguments["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert [value for kind, value in steps if kind == "FROM"] == [
        "${PYTHON_IMAGE} AS build",
        "${PYTHON_IMAGE}",
    ]
    assert [json.loads(v) for k, v in steps if k == "ENTRYPOINT"] == [["storehub"]]
    (cmd,) = [json.loads(v) for k, v in steps if k == "CMD"]
    assert cmd == SERVICES["hub1"]["command"] and callable(parse_storehub(cmd).run)
    users = [value for kind, value in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    # The Makefile's uv, and the lock file as it is, without the development tools.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    make_uv = re.search(r"^UV_VERSION := (\S+)$", makefile, re.M)
    assert make_uv is not None and arguments["UV_VERSION"] == make_uv.group(1)
    syncs = [value for kind, value in steps if kind == "RUN" and "uv sync" in value]
    assert len(syncs) == 2 and all("--frozen" in s and "--no-dev" in s for s in syncs)
    # Everything the wheel is made of is copied in (a new package must not be left out of the image).
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    copied = {
        source
        for kind, value in steps
        if kind == "COPY" and not value.startswith("--from")
        for source in value.split()[:-1]
    }
    packages = set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    assert copied == packages | {"pyproject.toml", "uv.lock", pyproject["project"]["readme"]}
    # lxml and xmlsec are built from source: the build stage has what system-deps.sh gives development.
    build_stage = " ".join(value for kind, value in steps if kind == "RUN" and "build-essential" in value)
    for package in ("pkg-config", "libxml2-dev", "libxslt1-dev", "libxmlsec1-dev", "libxmlsec1-openssl"):
        assert package in build_stage.split()


# -- the hubs' environment -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", STOREHUB_SERVICES)
def test_storehub_processes_get_known_settings_that_load(name: str) -> None:
    env = environment(SERVICES[name])
    unknown = sorted(key for key in env if key not in ENV_VARS and key not in NOT_HUB_SETTINGS)
    assert unknown == [], f"{name}: not Storehub settings: {unknown}"
    settings = load_settings(env=env)
    for host in service_hosts(settings, env):
        assert host in SERVICES, f"{name} reaches {host}, which is not a service"


def service_hosts(settings: Settings, env: Mapping[str, str]) -> set[str | None]:
    """The hosts of the servers this process is told to reach (not the defaults it was not told)."""
    hosts: set[str | None] = set()
    for variable, url in (
        ("STOREHUB_DATABASE_URL", settings.database_url),
        ("STOREHUB_REDIS_URL", settings.redis_url),
        ("STOREHUB_SII_SIMULATOR_URL", settings.sii_simulator_url),
    ):
        if variable in env:
            hosts.add(urlsplit(url).hostname)
    if "STOREHUB_KAFKA_URL" in env:
        hosts |= {address.rsplit(":", 1)[0] for address in settings.kafka_url.split(",")}
    return hosts


def test_hubs_share_one_database_as_a_role_under_row_level_security() -> None:
    owner = SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    urls = {name: environment(SERVICES[name]).get("STOREHUB_DATABASE_URL") for name in STOREHUB_SERVICES}
    migrate = urlsplit(urls.pop("migrate") or "")
    assert migrate.username == owner  # the owner creates tables, policies and lookup functions
    assert urls.pop("sii-sim") is None
    for name, url in urls.items():
        parts = urlsplit(url or "")
        assert parts.scheme == "postgresql+asyncpg" and parts.hostname == "postgres", name
        assert parts.username == "storehub_hub" != owner, name
        assert parts.password == SAMPLE_ENV["POSTGRES_PASSWORD"], name
    roles = COMPOSE["configs"]["postgres-roles"]["content"]
    hub_role = re.search(r"CREATE ROLE storehub_hub ([^;]+);", roles)
    assert hub_role is not None
    words = hub_role.group(1).split()
    assert {"LOGIN", "NOSUPERUSER", "NOBYPASSRLS"} <= set(words) and "IN ROLE storehub_app" in " ".join(words)
    assert "$POSTGRES_PASSWORD" in roles and "ON_ERROR_STOP=1" in roles  # after Compose's $$ -> $


def test_the_addresses_between_services_agree() -> None:
    hubs = hub_services()
    ports = {hub_port(SERVICES[name]) for name in hubs}
    assert len(ports) == 1
    (port,) = ports
    for name in hubs:
        assert str(port) in [str(p) for p in SERVICES[name]["expose"]]
        assert f"127.0.0.1:{port}/readyz" in " ".join(SERVICES[name]["healthcheck"]["test"])
    assert set(upstream_servers(nginx_config())) == {f"{name}:{port}" for name in hubs}
    # The device agent comes in through the load balancer, as a store's agent would.
    devices = parse_storehub(SERVICES["devices"]["command"])
    lb = urlsplit(devices.hub)
    assert lb.hostname == "lb" and lb.port == listen_port(nginx_config())
    assert SERVICES["lb"]["ports"] == [f"{lb.port}:{lb.port}"]
    # The hubs find the SII simulator where it listens.
    sii = parse_storehub(SERVICES["sii-sim"]["command"])
    simulator = urlsplit(load_settings(env=environment(SERVICES["hub1"])).sii_simulator_url)
    assert (simulator.hostname, simulator.port, sii.host) == ("sii-sim", sii.port, "0.0.0.0")


def test_healthchecks_probe_what_the_processes_serve() -> None:
    from litestar.testing import TestClient

    from fiscal.cl.simulator import SimulatorState, create_simulator_app
    from hub.http.health import ROUTES

    hub_paths = {path for route in ROUTES for path in route.paths}
    for name, service in SERVICES.items():
        test = service.get("healthcheck", {}).get("test", [])
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3], f"{name} healthcheck", "exec")
    hub_url = re.search(r"'(http://[^']+)'", SERVICES["hub1"]["healthcheck"]["test"][3])
    assert hub_url is not None and urlsplit(hub_url.group(1)).path in hub_paths
    sii_url = re.search(r"'(http://[^']+)'", SERVICES["sii-sim"]["healthcheck"]["test"][3])
    assert sii_url is not None
    with TestClient(create_simulator_app(SimulatorState())) as client:
        assert client.get(urlsplit(sii_url.group(1)).path).status_code == 200


def test_kafka_is_one_kraft_node_the_hubs_can_reach() -> None:
    env = environment(SERVICES["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert set(listeners) <= set(protocols) and controller in listeners and controller not in advertised
    assert (
        env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
        == f"{env['KAFKA_NODE_ID']}@kafka:{listeners[controller].split(':')[-1]}"
    )
    assert base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==") and len(env["CLUSTER_ID"]) == 22
    assert env["KAFKA_LOG_DIRS"] in [v.split(":", 1)[1] for v in SERVICES["kafka"]["volumes"]]
    for name in STOREHUB_SERVICES:
        kafka_url = environment(SERVICES[name]).get("STOREHUB_KAFKA_URL")
        if kafka_url is not None:
            assert kafka_url in advertised.values(), name


# -- the load balancer -----------------------------------------------------------------------------------


def nginx_config() -> str:
    config: str = COMPOSE["configs"]["nginx-lb"]["content"]
    (mount,) = SERVICES["lb"]["configs"]
    assert mount == {"source": "nginx-lb", "target": "/etc/nginx/conf.d/default.conf"}  # in http { }
    return config


def upstream_servers(config: str) -> list[str]:
    return re.findall(r"^\s*server\s+([\w.-]+:\d+)\b", config, re.M)


def listen_port(config: str) -> int:
    (port,) = re.findall(r"^\s*listen\s+(\d+);", config, re.M)
    return int(port)


def nginx_maps(config: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """``map $source $target { key value; ... }`` blocks: (source, target) -> [(key, value), ...]."""
    maps: dict[tuple[str, str], list[tuple[str, str]]] = {}
    lines = iter(config.splitlines())
    for line in lines:
        head = re.match(r"^\s*map\s+(\$\w+)\s+(\$\w+)\s*\{\s*$", line)
        if head is None:
            continue
        entries = maps[(head.group(1), head.group(2))] = []
        for entry in lines:
            if entry.strip() == "}":
                break
            found = re.match(r'^\s*("(?:[^"\\]|\\.)*"|\S+)\s+("[^"]*"|\S+);\s*$', entry)
            assert found is not None, entry
            entries.append((found.group(1).strip('"'), found.group(2).strip('"')))
    return maps


def apply_map(entries: list[tuple[str, str]], value: str, variables: Mapping[str, str]) -> str:
    """What nginx's map gives for ``value`` (exact keys first, then regular expressions in order)."""

    def expand(result: str, match: re.Match[str] | None) -> str:
        if match is not None:
            result = re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))), result)
        return re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], result)

    exact = dict(entries)
    if value in exact and not value.startswith("~"):
        return expand(exact[value], None)
    for key, result in entries:
        if key.startswith("~"):
            pattern, flags = (key[2:], re.I) if key.startswith("~*") else (key[1:], 0)
            match = re.search(pattern, value, flags)
            if match is not None:
                return expand(result, match)
    return expand(exact.get("default", ""), None)


def tenant_key(cookie: str | None, authorization: str | None, address: str = "192.0.2.7") -> str:
    """The load balancer's ``$storehub_tenant`` for a request, computed from its maps."""
    maps = nginx_maps(nginx_config())
    variables = {"remote_addr": address}
    inputs = {
        f"$cookie_{SESSION_COOKIE}": cookie or "",
        "$http_authorization": authorization or "",
        "$http_upgrade": "",
    }
    pending = dict(maps)
    while pending:  # each map once its input is known
        for (source, target), entries in list(pending.items()):
            name = source[1:]
            if source in inputs or name in variables:
                value = inputs[source] if source in inputs else variables[name]
                variables[target[1:]] = apply_map(entries, value, variables)
                del pending[(source, target)]
                break
        else:
            raise AssertionError(f"maps whose input is never set: {sorted(pending)}")
    return variables["storehub_tenant"]


def test_the_tenant_key_is_the_tenant_id_from_the_cookie_or_the_device_token() -> None:
    config = nginx_config()
    assert re.search(r"upstream storehub_hubs \{\s*hash \$storehub_tenant consistent;", config)
    assert f"map $cookie_{SESSION_COOKIE} " in config
    tenant, other = uuid.uuid4(), uuid.uuid4()
    browser = session_cookie_value(tenant, new_secret())
    agent = f"Bearer {bearer_token('shd', tenant, new_secret())}"
    api = f"bearer  {bearer_token('shk', tenant, new_secret())}"
    assert tenant_key(browser, None) == tenant_key(None, agent) == tenant_key(None, api) == tenant.hex
    assert tenant_key(browser, f"Bearer {bearer_token('shd', other, new_secret())}") == tenant.hex
    # Nothing to go by (the login page), or something that is not a token: the client's address.
    assert tenant_key(None, None, "198.51.100.4") == "198.51.100.4"
    assert tenant_key("nonsense", "Basic dXNlcjpwYXNz", "198.51.100.4") == "198.51.100.4"


def test_websocket_upgrades_are_proxied() -> None:
    config = nginx_config()
    location = config.split("location / {", 1)[1]
    assert "proxy_pass http://storehub_hubs;" in location and "proxy_http_version 1.1;" in location
    assert "proxy_set_header Upgrade $http_upgrade;" in location
    connection = re.search(r"proxy_set_header Connection (\$\w+);", location)
    assert connection is not None
    (entries,) = [e for (src, dst), e in nginx_maps(config).items() if dst == connection.group(1)]
    assert apply_map(entries, "websocket", {}) == "upgrade" and apply_map(entries, "", {}) == ""
    assert "proxy_set_header Host $http_host;" in location  # the hub checks Origin against it


# -- a real nginx ----------------------------------------------------------------------------------------

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
)
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (scripts/system-deps.sh installs it): config not run"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_main(tmp: Path, site: str) -> Path:
    """A main configuration around the load balancer's (which goes in http { }), writable as any user."""
    assert NGINX is not None
    (tmp / "site.conf").write_text(site, encoding="utf-8")
    built = subprocess.run([NGINX, "-V"], capture_output=True, text=True, check=True).stderr
    temp_paths = "".join(
        f"    {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        if kind == "client_body" or f"--without-http_{kind}_module" not in built
    )
    main = tmp / "nginx.conf"
    main.write_text(
        f"worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log stderr;\n"
        f"events {{ worker_connections 256; }}\n"
        f"http {{\n    access_log off;\n{temp_paths}    include {tmp / 'site.conf'};\n}}\n",
        encoding="utf-8",
    )
    return main


def local_site(ports: Mapping[str, int] | None = None, listen: int | None = None) -> str:
    """The load balancer's configuration with the hubs at 127.0.0.1 (their ports too, when given)."""
    site = nginx_config()
    for address in upstream_servers(site):
        host, port = address.split(":")
        replacement = f"127.0.0.1:{ports[host] if ports else port}"
        site = re.sub(rf"(\bserver\s+){re.escape(address)}\b", rf"\g<1>{replacement}", site)
    if listen is not None:
        site = re.sub(r"(^\s*listen\s+)\d+;", rf"\g<1>127.0.0.1:{listen};", site, flags=re.M)
    return site


@needs_nginx
def test_nginx_accepts_the_load_balancers_configuration(tmp_path: Path) -> None:
    assert NGINX is not None
    main = nginx_main(tmp_path, local_site())
    result = subprocess.run(
        [NGINX, "-t", "-e", "stderr", "-c", str(main)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@contextlib.asynccontextmanager
async def running_nginx(tmp: Path, site: str, port: int) -> AsyncIterator[None]:
    assert NGINX is not None
    main = nginx_main(tmp, site)
    log = tmp / "nginx.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            NGINX, "-e", "stderr", "-c", str(main), "-g", "daemon off;", stderr=stderr
        )
    try:
        for _ in range(200):  # it listens within a few milliseconds; 10 s at most
            assert process.returncode is None, log.read_text()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            break
        else:
            raise AssertionError("nginx did not listen: " + log.read_text())
        yield
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


def seen_request(node: str, request: Request) -> str:
    return json.dumps({"node": node, "headers": {k.lower(): v for k, v in request.headers.raw_items()}})


@contextlib.asynccontextmanager
async def backend(node: str, port: int) -> AsyncIterator[Server]:
    """A stand-in hub: says which node it is and what headers reached it, over HTTP or a WebSocket."""

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        return connection.respond(HTTPStatus.OK, seen_request(node, request))

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        await connection.send(seen_request(node, connection.request))

    async with serve(handler, "127.0.0.1", port, process_request=process_request) as server:
        yield server


async def socket_lands_on(lb: int, headers: Mapping[str, str]) -> dict[str, Any]:
    async with connect(f"ws://127.0.0.1:{lb}/ws", additional_headers=dict(headers), open_timeout=5) as ws:
        seen: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        return seen


@needs_nginx
async def test_a_real_nginx_keeps_each_tenant_on_one_node(tmp_path: Path) -> None:
    ports = {"hub1": free_port(), "hub2": free_port()}
    lb = free_port()
    tenants = [uuid.uuid5(uuid.NAMESPACE_URL, f"storehub-tenant-{i}") for i in range(40)]
    site = local_site(ports, lb)
    async with (
        asyncio.timeout(60),
        backend("hub1", ports["hub1"]),
        backend("hub2", ports["hub2"]) as hub2,
        running_nginx(tmp_path, site, lb),
    ):
        home: dict[uuid.UUID, str] = {}
        for tenant in tenants:
            browser = {"Cookie": f"{SESSION_COOKIE}={session_cookie_value(tenant, new_secret())}"}
            agent = {"Authorization": f"Bearer {bearer_token('shd', tenant, new_secret())}"}
            landed = [await socket_lands_on(lb, browser) for _ in range(3)]
            landed.append(await socket_lands_on(lb, agent))
            nodes = {seen["node"] for seen in landed}
            assert len(nodes) == 1, f"tenant {tenant} was spread over {nodes}"
            home[tenant] = nodes.pop()
            # The upgrade reached the node as an upgrade, with what the hub needs from the proxy.
            headers = landed[0]["headers"]
            assert headers["upgrade"].lower() == "websocket" and "upgrade" in headers["connection"].lower()
            assert headers["host"] == f"127.0.0.1:{lb}" and headers["x-forwarded-for"] == "127.0.0.1"
        assert set(home.values()) == {"hub1", "hub2"}  # and the tenants are shared out

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{lb}", timeout=5) as http:
            # Without a session or a token (the login page), the client's address is the key.
            anonymous = {(await http.get("/login/")).json()["node"] for _ in range(5)}
            assert len(anonymous) == 1
            tenant = tenants[0]
            cookie = {"Cookie": f"{SESSION_COOKIE}={session_cookie_value(tenant, new_secret())}"}
            page = await http.get("/api/v1/auth/me", headers=cookie)
            assert page.json()["node"] == home[tenant]
            assert (await http.get("/lb-healthz")).text == "ok\n"
            assert (await http.get("/metrics")).status_code == 403

        # A node down: its tenants move to the other one; the other node's tenants stay where they are.
        hub2.close()
        await hub2.wait_closed()
        for tenant in tenants[:10]:
            agent = {"Authorization": f"Bearer {bearer_token('shd', tenant, new_secret())}"}
            assert (await socket_lands_on(lb, agent))["node"] == "hub1"
