from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from lxml import etree

from fiscal.certificates import Signer
from fiscal.cl.cli import add_fiscal_commands, main
from fiscal.cl.envelope import build_envio_dte

SAMPLE_170 = "DTE--76354771-K--33--170.xml"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, list[str], str]:
    code = main(["fiscal", "verify", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_valid_sample_exits_0(capsys: pytest.CaptureFixture[str], reference: Path) -> None:
    sii = reference / "sii"
    code, out, err = run(
        capsys,
        sii / "samples" / SAMPLE_170,
        "--schemas",
        sii / "schemas",
        "--sii-cert",
        sii / "certificates" / "100.cer",
        "--sii-cert",
        sii / "certificates" / "300.cer",
    )
    assert (code, err) == (0, "")
    assert len(out) == 1
    assert out[0].startswith("OK 33 folio 170: schema: valid; XMLDSig: signed by Ramon humberto Lopez  Jara")
    assert "TED: stamp verifies, CAF signed by SII key" in out[0]


def test_altered_sample_exits_1_and_says_why(
    capsys: pytest.CaptureFixture[str], sii_samples: dict[str, bytes], tmp_path: Path
) -> None:
    path = tmp_path / "altered.xml"
    path.write_bytes(sii_samples[SAMPLE_170].replace(b"<MntTotal>2996301<", b"<MntTotal>2996300<"))
    code, out, err = run(capsys, path)
    assert (code, err) == (1, "")
    assert out[0].startswith("FAIL 33 folio 170: XMLDSig: digest mismatch: Documento MiPE76354771-13419")
    assert "TED vs document: TED MNT 2996301 != MntTotal 2996300" in out[0]


def test_envelope_prints_one_line_per_document_and_one_for_the_envelope(
    capsys: pytest.CaptureFixture[str],
    build: Callable[..., etree._Element],
    company_rut: str,
    signer: Signer,
    reference: Path,
    tmp_path: Path,
) -> None:
    documents = [build(33, 301), build(61, 301)]
    envelope = build_envio_dte(
        documents, company_rut, company_rut, date(2024, 8, 1), 0, signer, datetime(2025, 3, 20, 12, 0)
    )
    path = tmp_path / "envio.xml"
    path.write_bytes(envelope)
    code, out, _ = run(capsys, path, "--schemas", reference / "sii" / "schemas")
    assert code == 0
    assert [line.split(":")[0] for line in out] == ["OK 33 folio 301", "OK 61 folio 301", "OK EnvioDTE"]
    path.write_bytes(
        envelope.replace(b"<NroLinDet>1</NroLinDet><NmbItem>Pan", b"<NroLinDet>1</NroLinDet><NmbItem>Pam")
    )
    code, out, _ = run(capsys, path)
    assert code == 1
    assert [line.split(":")[0] for line in out] == ["FAIL 33 folio 301", "FAIL 61 folio 301", "FAIL EnvioDTE"]


def test_unreadable_input_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, reference: Path
) -> None:
    code, out, err = run(capsys, tmp_path / "missing.xml")
    assert (code, out) == (2, [])
    assert (
        err == f"storehub fiscal verify: cannot read {tmp_path / 'missing.xml'}: No such file or directory\n"
    )
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"%PDF-1.4 not xml")
    code, _, err = run(capsys, garbage)
    assert code == 2 and "is not well-formed XML" in err
    other = tmp_path / "other.xml"
    other.write_bytes(b"<factura/>")
    code, _, err = run(capsys, other)
    assert code == 2 and "is a <factura>, not a DTE, EnvioDTE or EnvioBOLETA" in err
    sample = reference / "sii" / "samples" / SAMPLE_170
    code, _, err = run(capsys, sample, "--schemas", tmp_path)
    assert code == 2 and "cannot load SII schema DTE" in err
    code, _, err = run(capsys, sample, "--sii-cert", garbage)
    assert code == 2 and "not an X.509 certificate" in err


def test_add_fiscal_commands_plugs_into_the_storehub_parser(
    reference: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # hub.cli builds `storehub` with argparse and calls args.run(settings, args)
    parser = argparse.ArgumentParser(prog="storehub")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve")
    add_fiscal_commands(commands)
    args = parser.parse_args(["fiscal", "verify", str(reference / "sii" / "samples" / SAMPLE_170)])
    assert args.run(object(), args) == 0
    assert capsys.readouterr().out.startswith("OK 33 folio 170")
    with pytest.raises(SystemExit):
        parser.parse_args(["fiscal"])
