"""What every response carries (security headers, request id), probes, metrics, docs, problem documents."""

from __future__ import annotations

import re
import uuid

import pytest

from hub.app import create_app
from hub.security import CSP
from hub.services import Services
from tests.hub.conftest import Hub, HubFactory, http_client, make_settings


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/stores", "/no/such/page", "/login/", "/docs"])
async def test_security_headers_everywhere(hub: Hub, path: str) -> None:
    response = await hub.client.get(path)
    assert response.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP
    assert "script-src 'self';" in CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers  # plain http
    if path.startswith("/api/"):
        assert response.headers["cache-control"] == "no-store"


async def test_hsts_only_over_tls(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(public_url="https://hub.example.cl", base_url="https://hub.example.cl")
    for path in ("/healthz", "/nowhere"):
        response = await hub.client.get(path)
        assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_request_id_is_echoed_or_generated(hub: Hub) -> None:
    echoed = await hub.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await hub.client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    problem = await hub.client.get("/api/v1/stores", headers={"X-Request-ID": "trace-7"})
    assert problem.json()["request_id"] == "trace-7"


async def test_healthz_and_readyz(hub: Hub) -> None:
    health = await hub.client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    ready = await hub.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    # Nothing listens on port 1: every connection attempt is refused at once.
    services = Services(make_settings("postgresql+asyncpg://storehub@127.0.0.1:1/storehub"))
    async with http_client(create_app(services=services)) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "checks": {"database": "failed"}}
        assert (await client.get("/healthz")).status_code == 200  # alive all the same
    await services.stop()


async def test_readyz_reports_redis(hub_factory: HubFactory) -> None:
    hub: Hub = await hub_factory(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    ready = await hub.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "redis": "failed"}


async def test_metrics_in_prometheus_text_format(hub: Hub) -> None:
    product = await hub.client.get(f"/api/v1/products/{hub.a.product_id}", headers=hub.owner(hub.a))
    assert product.status_code == 200
    await hub.client.get(f"/api/v1/products/{uuid.uuid4()}", headers=hub.owner(hub.a))
    await hub.client.get("/definitely/not/here")
    response = await hub.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    route = "/api/v1/products/{product_id}"
    assert f'storehub_http_requests_total{{method="GET",route="{route}",status="200"}} 1' in text
    assert f'storehub_http_requests_total{{method="GET",route="{route}",status="404"}} 1' in text
    assert 'storehub_http_requests_total{method="GET",route="<unmatched>",status="404"} 1' in text
    assert str(hub.a.product_id) not in text  # raw paths never become labels
    assert "# TYPE storehub_http_request_duration_seconds histogram" in text
    assert (
        f'storehub_http_request_duration_seconds_bucket{{method="GET",route="{route}",le="+Inf"}} 2' in text
    )
    assert f'storehub_http_request_duration_seconds_count{{method="GET",route="{route}"}} 2' in text
    assert "# TYPE storehub_db_pool_size gauge" in text
    # A value is a float as Prometheus writes it: 7.75e-05 has a minus in its exponent.
    number = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?Inf|NaN"
    labels = r'(\{([a-zA-Z_]\w*="([^"\\]|\\.)*",?)*\})?'
    sample = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*" + labels + " (" + number + ")$")
    for line in text.strip().splitlines():
        assert line.startswith("# ") or sample.match(line), line


async def test_openapi_docs_without_cdn(hub: Hub) -> None:
    page = await hub.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/static/docs.js" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    script = await hub.client.get("/static/docs.js")
    assert script.status_code == 200
    spec = await hub.client.get("/docs/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/products" in paths
    assert "/api/v1/auth/login" in paths
    assert "/healthz" not in paths


async def test_problem_documents(hub: Hub) -> None:
    missing = await hub.client.get(f"/api/v1/stores/{uuid.uuid4()}", headers=hub.owner(hub.a))
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    body = missing.json()
    assert body["type"] == "urn:storehub:problem:not_found"
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert body["title"] == "Not found"
    assert body["detail"] == "store not found"

    unknown = await hub.client.get("/api/v2/nothing")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "not_found"

    method = await hub.client.put("/api/v1/stores", headers=hub.owner(hub.a))
    assert method.status_code == 405
    assert method.json()["code"] == "method_not_allowed"

    bad_json = await hub.client.post(
        "/api/v1/categories",
        content=b"{not json",
        headers={**hub.owner(hub.a), "Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "invalid"

    unauthenticated = await hub.client.get("/api/v1/stores")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["type"] == "urn:storehub:problem:unauthenticated"


async def test_unexpected_errors_are_500_without_internals(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    async def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(hub.services.db, "tenant_id_by_slug", explode)
    response = await hub.client.post(
        "/api/v1/auth/login", json={"tenant": hub.a.slug, "username": "owner", "password": "x"}
    )
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    assert body["detail"] == "internal error"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
