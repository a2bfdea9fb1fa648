from __future__ import annotations

from fiscal.cl.sii_endpoints import SiiEndpoints


def test_certification() -> None:
    sii = SiiEndpoints.certification()
    assert sii.seed_url == "https://maullin.sii.cl/DTEWS/CrSeed.jws"
    assert sii.token_url == "https://maullin.sii.cl/DTEWS/GetTokenFromSeed.jws"
    assert sii.upload_status_url == "https://maullin.sii.cl/DTEWS/QueryEstUp.jws"
    assert sii.query_document_url == "https://maullin.sii.cl/DTEWS/QueryEstDte.jws"
    assert sii.upload_url == "https://maullin.sii.cl/cgi_dte/UPL/DTEUpload"
    assert sii.boleta_seed_url == "https://apicert.sii.cl/recursos/v1/boleta.electronica.semilla"
    assert sii.boleta_token_url == "https://apicert.sii.cl/recursos/v1/boleta.electronica.token"
    assert sii.boleta_upload_url == "https://pangal.sii.cl/recursos/v1/boleta.electronica.envio"
    assert (
        sii.boleta_status_url("76086428-5", "1014")
        == "https://apicert.sii.cl/recursos/v1/boleta.electronica.envio/76086428-5-1014"
    )


def test_production() -> None:
    sii = SiiEndpoints.production()
    assert sii.environment == "production"
    assert sii.seed_url.startswith("https://palena.sii.cl/")
    assert sii.upload_url == "https://palena.sii.cl/cgi_dte/UPL/DTEUpload"
    assert sii.query_document_url == "https://palena.sii.cl/DTEWS/QueryEstDte.jws"
    assert sii.boleta_token_url.startswith("https://api.sii.cl/recursos/v1/")
    assert sii.boleta_upload_url == "https://rahue.sii.cl/recursos/v1/boleta.electronica.envio"
    assert sii.boleta_status_url("96874030-K", "7").endswith("/boleta.electronica.envio/96874030-K-7")


def test_simulator_puts_every_service_under_one_base() -> None:
    sim = SiiEndpoints.simulator("http://127.0.0.1:8090/")
    urls = [
        sim.seed_url,
        sim.token_url,
        sim.upload_status_url,
        sim.query_document_url,
        sim.upload_url,
        sim.boleta_seed_url,
        sim.boleta_token_url,
        sim.boleta_upload_url,
        sim.boleta_status_url("76086428-5", "1"),
    ]
    assert all(url.startswith("http://127.0.0.1:8090/") and "//" not in url[7:] for url in urls)
    assert sim.upload_url.endswith("/cgi_dte/UPL/DTEUpload")
