"""A completed sale or credit note as the input of its DTE (boleta 39, factura 33, nota de crédito 61).

The document must say exactly what the till charged: each DTE line amount equals the sale line's total
and ``MntTotal`` the sale's total (cash rounding under Ley 20.956 is a matter of payment and stays out of
the document). A line whose total is not unit price x quantity - discount (a price-embedded scale label)
is written as one unit at its total, with the weight in its name, so no peso is invented or lost. Prices at
the till include IVA; a factura or credit note is priced from them (``prices_include_iva``), which keeps its
total equal to what was paid.

Credit notes reference the document of the sale they return from: ``CodRef`` 1 (anula) when they give back
everything that sale still had, 3 (corrige montos) for a partial return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from actors.sales.lines import line_gross
from fiscal.cl.dte import DocLine, DocumentInput, Emitter, Receiver, Reference
from schema.models import FiscalSetup

EXEMPT_TAX_CLASSES = frozenset({"cl_exempt"})
DOC_NAMES = {39: "boleta", 33: "factura", 61: "nota de crédito"}


@dataclass(frozen=True, slots=True)
class SoldLine:
    name: str
    unit: str  # "unit" or "kg" as the catalog says
    quantity: int  # thousandths; a credit note's are positive here
    unit_price: int
    total: int  # after discount, IVA included
    tax_class: str


@dataclass(frozen=True, slots=True)
class Referenced:
    """The document a credit note corrects."""

    doc_type: int
    folio: int
    issued: date
    total: int
    whole: bool  # the credit note gives back everything: it annuls the document


def emitter_of(setup: FiscalSetup) -> Emitter:
    """The tenant's fiscal setup as the emitter of its documents."""
    return Emitter(
        rut=setup.rut, razon_social=setup.razon_social, giro=setup.giro, acteco=list(setup.acteco),
        address=setup.address, comuna=setup.comuna, city=setup.city, branch_code=setup.branch_code,
        email=setup.email or None,
    )  # fmt: skip


def doc_line(line: SoldLine) -> DocLine:
    exempt = line.tax_class in EXEMPT_TAX_CLASSES
    name = line.name[:80]
    gross = line_gross(line.unit_price, line.quantity)
    if gross >= line.total:
        return DocLine(
            name=name,
            quantity=line.quantity,
            unit_price=line.unit_price,
            unit="KG" if line.unit == "kg" else "UN",
            discount_amount=gross - line.total,
            exempt=exempt,
        )
    # Charged more than price x quantity (a price label): one unit at what was charged.
    weight = f" ({line.quantity / 1000:.3f} kg)".replace(".", ",") if line.unit == "kg" else ""
    return DocLine(
        name=name[: 80 - len(weight)] + weight, quantity=1000, unit_price=line.total, exempt=exempt
    )


def document_input(
    *,
    doc_type: int,
    folio: int,
    issued: date,
    emitter: Emitter,
    lines: list[SoldLine],
    receiver: Receiver | None = None,
    referenced: Referenced | None = None,
    reason: str = "",
) -> DocumentInput:
    references: list[Reference] = []
    if referenced is not None:
        references.append(
            Reference(
                doc_type=referenced.doc_type,
                folio=str(referenced.folio),
                date=referenced.issued,
                cod_ref=1 if referenced.whole else 3,
                reason=(reason or ("Anula documento" if referenced.whole else "Devolución"))[:90],
                referenced_total=referenced.total if referenced.whole else None,
            )
        )
    return DocumentInput(
        doc_type=doc_type,  # type: ignore[arg-type]
        folio=folio,
        issue_date=issued,
        emitter=emitter,
        lines=[doc_line(line) for line in lines],
        receiver=receiver,
        references=references,
        payment_method=1 if doc_type == 33 else None,
        prices_include_iva=True,
    )
