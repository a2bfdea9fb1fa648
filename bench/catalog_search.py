"""Till catalog search benchmark: the CatalogIndex against a naive linear scan, same data, same run.

    .venv/bin/python bench/catalog_search.py --products 100000 --queries 2000 --baseline-queries 50

Builds generated minimarket products (Spanish-like names from a grocery vocabulary plus made-up brands,
numeric SKUs, EAN-13 barcodes), then measures: bulk load and one-by-one put rates, renames on the full
index, search latency p50/p99 for 1-, 2- and 3-word queries (word prefixes of 1 to 5 characters taken from
real product names) and exact code lookups. The baseline scans every product with the same matching rules
on pre-normalized text (its best case) and must return the same results; every baseline query is checked
against the index. The garbage collector stays on, as in the hub: its pauses are part of the p99. The last
line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec

from actors.sales.catalog_index import CatalogIndex
from actors.sales.search_text import normalize, words
from schema.barcodes import make_ean13
from schema.messages.catalog import ProductView

LIMIT = 20


def vocabulary(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


NOUNS = vocabulary(
    "Pan Leche Queso Yogur Arroz Fideos Aceite Azúcar Café Té Galletas Jugo Bebida Agua Cerveza Vino Pisco "
    "Pollo Carne Jamón Salame Longaniza Vienesas Huevos Mantequilla Margarina Manjar Mermelada Harina Sal "
    "Porotos Lentejas Garbanzos Atún Jurel Choclo Arvejas Durazno Piña Manzana Plátano Palta Tomate Limón "
    "Papas Cebolla Zanahoria Lechuga Ajo Orégano Comino Merkén Ketchup Mayonesa Mostaza Detergente Cloro "
    "Lavaloza Suavizante Jabón Champú Pasta Cepillo Papel Servilletas Toallas Pañales Chocolate Caramelos "
    "Chicle Helado Cereal Avena Empanada Hallulla Marraqueta Dobladita Sopaipilla Queque Alfajor Calzones"
)
QUALIFIERS = vocabulary(
    "Amasado Entera Descremada Semidescremada Gauda Mantecoso Chanco Integral Grado Maravilla Oliva "
    "Extra Virgen Natural Light Zero Sin Azúcar Lactosa Ahumado Cocido Serrano Laminado Granulado Molido "
    "Instantáneo Tostado Frutilla Vainilla Chirimoya Lúcuma Mango Naranja Limón Menta Clásico Picante "
    "Suave Fuerte Añejo Reserva Premium Económico Familiar Individual Ñandú Artesanal Casero Orgánico"
)
SIZES = vocabulary(
    "1 kg|500 g|250 g|1 L|2 L|1.5 L|350 ml|6 x 350 ml|3 x 1 L|12 un|30 un|100 g|5 kg|750 cc", "|"
)
SYLLABLES = vocabulary("ma ri so la pe co ta ni lu ca ro ve ña ño gu bi fe mo que chi lle rra to di ba za cu")


def make_brand(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def make_products(count: int, seed: int) -> list[ProductView]:
    rng = random.Random(seed)
    brands = sorted({make_brand(rng) for _ in range(12_000)})
    products = []
    for n in range(1, count + 1):
        parts = [rng.choice(NOUNS)]
        parts += rng.sample(QUALIFIERS, rng.randint(0, 2))
        parts.append(rng.choice(brands))
        parts.append(rng.choice(SIZES))
        products.append(
            ProductView(
                id=uuid.UUID(int=rng.getrandbits(128)),
                sku=f"{n:06d}",
                name=" ".join(parts),
                price=rng.randint(100, 50_000),
                tax_class="cl_iva",
                weighable=False,
                unit="unit",
                barcodes=[make_ean13(f"780{rng.randrange(10**9):09d}")],
            )
        )
    return products


def make_queries(products: Sequence[ProductView], tokens: int, count: int, rng: random.Random) -> list[str]:
    """Word prefixes (1 to 5 characters) of ``tokens`` words of one real product, as a cashier types."""
    queries: list[str] = []
    while len(queries) < count:
        name_words = [w for w in rng.choice(products).name.split() if w.isalpha()]
        if len(name_words) < tokens:
            continue
        picked = rng.sample(name_words, tokens)
        queries.append(" ".join(w[: rng.randint(1, 5)] for w in picked))
    return queries


@dataclass(frozen=True, slots=True)
class Row:
    key: tuple[str, uuid.UUID]
    words: tuple[str, ...]
    sku: str
    barcodes: frozenset[str]
    view: ProductView


class LinearScan:
    """The obvious implementation: every product checked on every query, text normalized beforehand."""

    def __init__(self, products: Sequence[ProductView]) -> None:
        self.rows = [
            Row(
                (normalize(p.name), p.id),
                tuple(words(p.name)),
                normalize(p.sku),
                frozenset(normalize(b) for b in p.barcodes),
                p,
            )
            for p in products
        ]

    def search(self, q: str, limit: int) -> list[ProductView]:
        query, tokens = normalize(q), words(q)
        if not query:
            return []
        exact, rest = [], []
        for row in self.rows:
            if query in row.barcodes or query == row.sku:
                exact.append((row.key, row.view))
            elif (tokens and all(any(w.startswith(t) for w in row.words) for t in tokens)) or (
                row.sku.startswith(query)
            ):
                rest.append((row.key, row.view))
        exact.sort(key=lambda pair: pair[0])
        rest.sort(key=lambda pair: pair[0])
        return [view for _, view in (exact + rest)[:limit]]

    def by_code(self, code: str) -> ProductView | None:
        query = normalize(code)
        hits = [row for row in self.rows if query in row.barcodes] or [r for r in self.rows if r.sku == query]
        return min(hits, key=lambda row: row.key).view if hits else None


def timed(call: Callable[[str], object], inputs: Sequence[str]) -> tuple[list[float], list[object]]:
    gc.collect()  # start each series from the same heap; collections during it still count
    samples, results = [], []
    for item in inputs:
        started = time.perf_counter()
        result = call(item)
        samples.append(time.perf_counter() - started)
        results.append(result)
    return samples, results


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return round(cuts[49] * 1e6, 1), round(cuts[98] * 1e6, 1)  # microseconds


def peak_rss_mib() -> float:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def main(count: int, queries: int, baseline_queries: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    products = make_products(count, seed)
    figures: dict[str, float] = {"products": count, "queries": queries, "baseline_queries": baseline_queries}

    gc.collect()
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    index = CatalogIndex(products)
    figures["load_per_s"] = round(count / (time.perf_counter() - started))
    figures["rss_after_load_mib"] = round(peak_rss_mib(), 1)
    figures["rss_peak_growth_load_mib"] = round(peak_rss_mib() - rss_before, 1)
    figures["distinct_words"] = len({w for p in products for w in words(p.name)})

    one_by_one = CatalogIndex()
    started = time.perf_counter()
    for view in products:
        one_by_one.put(view)
    figures["put_per_s"] = round(count / (time.perf_counter() - started))
    del one_by_one

    renamed = [
        msgspec.structs.replace(p, name=p.name + " Oferta") for p in rng.sample(products, min(10_000, count))
    ]
    started = time.perf_counter()
    for view in renamed:
        index.put(view)
    figures["rename_per_s"] = round(len(renamed) / (time.perf_counter() - started))
    originals = {p.id: p for p in products}
    for view in renamed:  # back to the catalog the baseline scans
        index.put(originals[view.id])

    baseline = LinearScan(products)
    kinds = {f"search_{n}w": make_queries(products, n, queries, rng) for n in (1, 2, 3)}
    codes = [rng.choice(products).barcodes[0] for _ in range(queries)]
    for kind, inputs in kinds.items():
        samples, _ = timed(lambda q: index.search(q, LIMIT), inputs)
        figures[f"{kind}_p50_us"], figures[f"{kind}_p99_us"] = percentiles(samples)
        figures[f"{kind}_mean_hits"] = round(statistics.fmean(len(index.search(q, LIMIT)) for q in inputs), 1)
        subset = inputs[:baseline_queries]
        samples, expected = timed(lambda q: baseline.search(q, LIMIT), subset)
        figures[f"baseline_{kind}_p50_us"], figures[f"baseline_{kind}_p99_us"] = percentiles(samples)
        for q, want in zip(subset, expected, strict=True):
            assert index.search(q, LIMIT) == want, f"index and baseline disagree on {q!r}"
    samples, _ = timed(index.by_code, codes)
    figures["by_code_p50_us"], figures["by_code_p99_us"] = percentiles(samples)
    samples, expected = timed(baseline.by_code, codes[:baseline_queries])
    figures["baseline_by_code_p50_us"], figures["baseline_by_code_p99_us"] = percentiles(samples)
    for code, want in zip(codes, expected, strict=False):
        assert index.by_code(code) == want
    return figures


def run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--baseline-queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=20_956)
    args = parser.parse_args()
    f = main(args.products, args.queries, args.baseline_queries, args.seed)
    print(
        f"python {sys.version.split()[0]}, {f['products']:,} products "
        f"({f['distinct_words']:,} distinct words), limit {LIMIT}, {f['queries']:,} queries per kind "
        f"({f['baseline_queries']:,} for the baseline scan)"
    )
    print(f"load (bulk)   {f['load_per_s']:>9,} products/s   RSS after load {f['rss_after_load_mib']} MiB")
    print(f"put (1 by 1)  {f['put_per_s']:>9,} products/s")
    print(f"rename        {f['rename_per_s']:>9,} products/s   (put of a known id with a new name)")
    print(f"{'':16}{'index p50':>12}{'p99':>12}{'scan p50':>14}{'p99':>12}  (us)   hits")
    for kind, label in [("search_1w", "search 1 word"), ("search_2w", "search 2 words"),
                        ("search_3w", "search 3 words"), ("by_code", "by_code")]:  # fmt: skip
        hits = f"{f[f'{kind}_mean_hits']:6.1f}" if f"{kind}_mean_hits" in f else ""
        print(
            f"{label:16}{f[f'{kind}_p50_us']:>12,.1f}{f[f'{kind}_p99_us']:>12,.1f}"
            f"{f[f'baseline_{kind}_p50_us']:>14,.1f}{f[f'baseline_{kind}_p99_us']:>12,.1f}        {hits}"
        )
    print(json.dumps(f, sort_keys=True))


if __name__ == "__main__":
    run()
