"""Probes and metrics: ``/healthz`` (alive), ``/readyz`` (dependencies answer), ``/metrics``."""

from __future__ import annotations

import asyncio
import logging

import msgspec
from litestar import Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from hub.http.common import ServicesDep
from hub.metrics import CONTENT_TYPE
from hub.services import Services

log = logging.getLogger("hub.health")

PROBE_TIMEOUT = 2.0


class Health(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    checks: dict[str, str] = {}


@get("/healthz", include_in_schema=False, cache=False)
async def healthz() -> Health:
    """The process answers. No I/O: a slow database must not get a live process restarted."""
    return Health(status="ok")


async def _probe(name: str, services: Services) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            if name == "database":
                await services.db.ping()
            elif name == "redis" and services.redis is not None:
                await services.redis.ping()
    except Exception as exc:
        log.warning("readiness probe %s failed: %s", name, type(exc).__name__)
        return "failed"
    return "ok"


@get("/readyz", include_in_schema=False, cache=False)
async def readyz(services: ServicesDep) -> Response[Health]:
    """Ready for traffic: the database (and Redis, when configured) answer. 503 names what failed."""
    names = ["database"] + (["redis"] if services.redis is not None else [])
    results = await asyncio.gather(*(_probe(name, services) for name in names))
    checks = dict(zip(names, results, strict=True))
    ok = all(result == "ok" for result in results)
    return Response(
        Health(status="ok" if ok else "unavailable", checks=checks),
        status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
    )


@get("/metrics", include_in_schema=False, cache=False)
async def metrics(services: ServicesDep) -> Response[str]:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)


ROUTES = [healthz, readyz, metrics]
