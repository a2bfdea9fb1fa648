"""A sale's DTE says exactly what the till charged: line amounts and the total, peso for peso."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from actors.sales.lines import line_total
from fiscal.cl.dte import Emitter, Receiver, price_document
from fiscal.cl.sale_document import Referenced, SoldLine, document_input

EMITTER = Emitter(
    rut="76354771-K", razon_social="Minimarket Doña Rosa SpA", giro="Minimarket", acteco=[471100],
    address="Av. Irarrázaval 2100", comuna="Ñuñoa",
)  # fmt: skip
BUYER = Receiver(
    rut="76086428-5", razon_social="Comercial Los Andes SpA", giro="Almacén", address="Av. Grecia 1234",
    comuna="Ñuñoa",
)  # fmt: skip

sold_lines = st.builds(
    lambda price, qty, pct, unit, exempt: SoldLine(
        name="Producto ñandú",
        unit=unit,
        quantity=qty,
        unit_price=price,
        total=line_total(price, qty, pct),
        tax_class="cl_exempt" if exempt else "cl_iva",
    ),
    st.integers(1, 200_000),
    st.integers(1, 50_000),
    st.integers(0, 100),
    st.sampled_from(["unit", "kg"]),
    st.booleans(),
)


@given(st.lists(sold_lines, min_size=1, max_size=20), st.sampled_from([39, 33]))
def test_the_document_total_is_the_sale_total(lines: list[SoldLine], doc_type: int) -> None:
    doc = document_input(
        doc_type=doc_type, folio=1, issued=date(2026, 11, 21), emitter=EMITTER, lines=lines,
        receiver=BUYER if doc_type == 33 else None,
    )  # fmt: skip
    priced = price_document(doc)
    assert priced.totals.total == sum(line.total for line in lines)
    assert [p.amount for p in priced.lines] == [line.total for line in lines] or doc_type == 33


def test_a_price_label_line_is_one_unit_at_what_was_charged() -> None:
    label = SoldLine(name="Queso mantecoso", unit="kg", quantity=455, unit_price=9990, total=4600,
                     tax_class="cl_iva")  # fmt: skip
    doc = document_input(doc_type=39, folio=7, issued=date(2026, 11, 21), emitter=EMITTER, lines=[label])
    (line,) = doc.lines
    assert (line.quantity, line.unit_price, line.name) == (1000, 4600, "Queso mantecoso (0,455 kg)")
    assert price_document(doc).totals.total == 4600


def test_a_credit_note_annuls_a_whole_sale_and_corrects_a_partial_one() -> None:
    lines = [
        SoldLine(name="Leche", unit="unit", quantity=2000, unit_price=1090, total=2180, tax_class="cl_iva")
    ]
    whole = Referenced(doc_type=39, folio=12, issued=date(2026, 11, 20), total=2180, whole=True)
    note = document_input(doc_type=61, folio=3, issued=date(2026, 11, 21), emitter=EMITTER, lines=lines,
                          referenced=whole, reason="Cliente desiste")  # fmt: skip
    (ref,) = note.references
    assert (ref.doc_type, ref.folio, ref.cod_ref, ref.referenced_total, ref.reason) == (
        39,
        "12",
        1,
        2180,
        "Cliente desiste",
    )
    partial = document_input(
        doc_type=61, folio=4, issued=date(2026, 11, 21), emitter=EMITTER, lines=lines,
        referenced=Referenced(doc_type=33, folio=9, issued=date(2026, 11, 20), total=9000, whole=False),
        receiver=BUYER,
    )  # fmt: skip
    assert partial.references[0].cod_ref == 3 and partial.references[0].referenced_total is None
    assert price_document(partial).totals.total == 2180
