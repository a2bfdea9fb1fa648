# syntax=docker/dockerfile:1
# The Storehub image: the `storehub` command (serve, worker, migrate, seed-demo, devices, sim ...).
# Installed as `make env` installs the development environment: uv at the Makefile's version syncs uv.lock
# (--frozen), lxml and xmlsec built from source against Debian's libxml2 and xmlsec1 (pyproject.toml,
# [tool.uv] no-binary-package). tests/test_compose.py checks what it can of this file without Docker.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/storehub
# What lxml and xmlsec compile against (scripts/system-deps.sh installs the same for development).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential pkg-config libxml2-dev libxslt1-dev libxmlsec1-dev libxmlsec1-openssl \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# The dependencies first, in a layer of their own: a change of code does not rebuild lxml and xmlsec.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY schema ./schema
COPY actors ./actors
COPY hub ./hub
COPY fiscal ./fiscal
COPY devices ./devices
COPY clients ./clients
# The project itself as a wheel in the environment: /src is not needed at run time.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE}
# Run time: libxml2/libxslt (lxml), xmlsec1 with its OpenSSL engine (XML signatures), Pango and the
# HarfBuzz subsetter (WeasyPrint's PDFs), the DejaVu fonts the documents' stylesheets name.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libxml2 libxslt1.1 libxmlsec1 libxmlsec1-openssl \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-dejavu-extra \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/storehub --create-home storehub
COPY --from=build /opt/storehub /opt/storehub
ENV PATH=/opt/storehub/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER storehub
# Writable: the device agent's journal (var/demo-agent/) and anything else a command keeps under var/.
WORKDIR /var/lib/storehub
EXPOSE 8000
ENTRYPOINT ["storehub"]
CMD ["serve", "--host", "0.0.0.0"]
