from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.sales import catalog_index
from actors.sales.catalog_index import CatalogIndex
from actors.sales.errors import InvalidSearchError
from actors.sales.search_text import normalize, words
from schema.messages.catalog import ProductView


def product(
    n: int, name: str, sku: str | None = None, barcodes: list[str] | None = None, price: int = 1_000
) -> ProductView:
    return ProductView(
        id=uuid.UUID(int=n),
        sku=sku if sku is not None else f"SKU{n:06d}",
        name=name,
        price=price,
        tax_class="cl_iva",
        weighable=False,
        unit="unit",
        barcodes=barcodes or [],
    )


def index_of(*views: ProductView) -> CatalogIndex:
    index = CatalogIndex()
    for view in views:
        index.put(view)
    return index


def names(views: list[ProductView]) -> list[str]:
    return [v.name for v in views]


@dataclass(frozen=True)
class NaiveRow:
    key: tuple[str, uuid.UUID]
    words: list[str]
    sku: str
    barcodes: set[str]

    @classmethod
    def of(cls, v: ProductView) -> NaiveRow:
        return cls(
            (normalize(v.name), v.id), words(v.name), normalize(v.sku), {normalize(b) for b in v.barcodes}
        )


def naive_search(rows: Iterable[NaiveRow], q: str, limit: int) -> list[uuid.UUID]:
    """The rules read straight off the docstring, one product at a time."""
    query, tokens = normalize(q), words(q)
    if not query:
        return []
    exact, rest = [], []
    for row in rows:
        if query in row.barcodes or (row.sku and query == row.sku):
            exact.append(row.key)
        elif (tokens and all(any(w.startswith(t) for w in row.words) for t in tokens)) or (
            row.sku and row.sku.startswith(query)
        ):
            rest.append(row.key)
    return [key[1] for key in (sorted(exact) + sorted(rest))[:limit]]


def ids(views: list[ProductView]) -> list[uuid.UUID]:
    return [v.id for v in views]


def test_normalize() -> None:
    assert normalize("  Pan   AMASADO ") == "pan amasado"
    assert normalize("ÑUÑOA") == normalize("ñuñoa") == "nunoa"
    assert words("Café con Leche-Descremada 1.5L") == ["cafe", "con", "leche", "descremada", "1", "5l"]


def test_accents_and_case() -> None:
    index = index_of(product(1, "Pan Amasado"), product(2, "ñuñoa"), product(3, "Pan de Molde"))
    assert names(index.search("pan amasado")) == ["Pan Amasado"]
    assert names(index.search("ÑUÑOA")) == ["ñuñoa"]
    assert names(index.search("nunoa")) == ["ñuñoa"]
    assert names(index.search("PÁN")) == ["Pan Amasado", "Pan de Molde"]


def test_every_token_must_prefix_a_word() -> None:
    index = index_of(
        product(1, "Leche Entera Colun 1 L"),
        product(2, "Leche Descremada Colun 1 L"),
        product(3, "Yogur Descremado Frutilla"),
    )
    assert names(index.search("le desc")) == ["Leche Descremada Colun 1 L"]
    assert names(index.search("desc le")) == ["Leche Descremada Colun 1 L"]  # any order
    assert names(index.search("desc")) == ["Leche Descremada Colun 1 L", "Yogur Descremado Frutilla"]
    assert index.search("le desc frambuesa") == []
    assert index.search("eche") == []  # prefixes of words, not substrings


def test_codes() -> None:
    index = index_of(
        product(1, "Bebida Cola 1.5 L", sku="BEB-0015", barcodes=["7801234567890"]),
        product(2, "Bebida Naranja 1.5 L", sku="BEB-0016"),
    )
    assert index.by_code("7801234567890") == product(1, "Bebida Cola 1.5 L", "BEB-0015", ["7801234567890"])
    assert index.by_code("BEB-0016") is not None
    assert index.by_code("beb-0016") is not None  # SKUs typed in any case
    assert index.by_code("780123456789") is None  # not a prefix lookup
    assert index.by_code("BEB") is None
    assert names(index.search("7801234567890")) == ["Bebida Cola 1.5 L"]
    assert index.search("780123456789") == []  # barcodes match whole, not by prefix
    assert names(index.search("beb-001")) == ["Bebida Cola 1.5 L", "Bebida Naranja 1.5 L"]  # SKU prefix
    assert names(index.search("BEB-0016")) == ["Bebida Naranja 1.5 L"]


def test_barcode_wins_over_sku_in_by_code() -> None:
    index = index_of(product(1, "Alfa", sku="12345"), product(2, "Zeta", barcodes=["12345"]))
    view = index.by_code("12345")
    assert view is not None and view.name == "Zeta"


def test_exact_code_matches_come_first() -> None:
    index = index_of(
        product(1, "Agua 1234 Mineral"),
        product(2, "Zapallo Italiano", barcodes=["1234"]),
        product(3, "Arroz", sku="1234-A"),
        product(4, "Yerba", sku="1234"),
    )
    # exact: Yerba (SKU) and Zapallo (barcode), by name; then name/SKU-prefix matches by name
    assert names(index.search("1234")) == ["Yerba", "Zapallo Italiano", "Agua 1234 Mineral", "Arroz"]
    assert names(index.search("1234", limit=1)) == ["Yerba"]
    assert names(index.search("1234", limit=3)) == ["Yerba", "Zapallo Italiano", "Agua 1234 Mineral"]


def test_order_by_name_then_id_and_limit() -> None:
    index = index_of(
        product(5, "Té Verde"), product(3, "te verde"), product(4, "Té Negro"), product(1, "Tomate")
    )
    assert ids(index.search("t")) == [uuid.UUID(int=4), uuid.UUID(int=3), uuid.UUID(int=5), uuid.UUID(int=1)]
    assert ids(index.search("t", limit=2)) == [uuid.UUID(int=4), uuid.UUID(int=3)]
    with pytest.raises(InvalidSearchError):
        index.search("t", limit=0)


def test_rename_removes_stale_entries() -> None:
    index = index_of(product(1, "Pan Amasado", sku="PAN-1", barcodes=["111"]))
    index.put(product(1, "Hallulla", sku="HAL-1", barcodes=["222"]))
    assert index.search("amasado") == []
    assert index.search("pan") == []
    assert index.search("111") == []
    assert index.by_code("111") is None
    assert index.by_code("PAN-1") is None
    assert names(index.search("hall")) == ["Hallulla"]
    assert index.by_code("222") is not None
    assert index.by_code("hal-1") is not None
    assert len(index) == 1


def test_price_change_keeps_the_entry_and_returns_the_new_view() -> None:
    index = index_of(product(1, "Pan Amasado", price=1_990))
    index.put(product(1, "Pan Amasado", price=2_190))
    assert [v.price for v in index.search("pan")] == [2_190]
    view = index.get(uuid.UUID(int=1))
    assert view is not None and view.price == 2_190


def test_remove() -> None:
    index = index_of(product(1, "Pan Amasado", barcodes=["111"]), product(2, "Pan Batido"))
    assert index.remove(uuid.UUID(int=1)) is True
    assert index.remove(uuid.UUID(int=1)) is False
    assert names(index.search("pan")) == ["Pan Batido"]
    assert index.by_code("111") is None
    assert index.get(uuid.UUID(int=1)) is None


def test_shared_words_survive_removal_of_one_product() -> None:
    index = index_of(product(1, "Pan Amasado"), product(2, "Pan Amasado"))
    index.remove(uuid.UUID(int=1))
    assert ids(index.search("amasado")) == [uuid.UUID(int=2)]


def test_queries_without_words() -> None:
    index = index_of(product(1, "Pan", sku="-X-"))
    assert index.search("   ") == []
    assert names(index.search("-x")) == ["Pan"]  # no words, but a SKU prefix
    assert index.search("--") == []


# -- against the naive reference ----------------------------------------------------------------------

# Words sharing prefixes at every length, accents and case, numbers, and "chi" starting more than
# MERGE_MAX words, so that every way of reading the postings is taken.
VOCABULARY = [
    "pan",
    "Pán",
    "PANADERÍA",
    "leche",
    "lechuga",
    "ñuñoa",
    "Nuñez",
    "té",
    "te",
    "tomate",
    "1",
    "1L",
    "chirimoya",
    "Chicle",
    "chile",
    "chino",
    "chip",
    "CHIMENEA",
    "choclo",
    "Coca-Cola",
]

catalog_products = st.builds(
    lambda n, name_words, sku, barcodes: product(n, " ".join(name_words), sku, barcodes),
    st.integers(1, 12),
    st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4),
    st.sampled_from(["", "A1", "a10", "A2", "1", "10", "pan"]),
    st.lists(st.sampled_from(["1", "10", "780", "7801"]), max_size=2),
)
query_words = [
    "p",
    "pa",
    "PAN",
    "le",
    "lech",
    "ñu",
    "NU",
    "t",
    "té",
    "1",
    "x",
    "chi",
    "CH",
    "chil",
    "c",
    "cola",
    "coca-c",
]
queries = st.one_of(
    st.lists(st.sampled_from(query_words), max_size=3).map(" ".join),
    st.sampled_from(["a1", "A", "10", "780", "7801", "pan", "1", "-"]),
)
# (MERGE_MAX, DENSE): always a prefix list, the shipped values, always a merge of word lists.
thresholds = st.sampled_from([(0, 10**9), (catalog_index.MERGE_MAX, catalog_index.DENSE), (10**9, 1)])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(catalog_products, max_size=20),
    st.lists(st.tuples(st.booleans(), catalog_products), max_size=30),
    st.lists(st.tuples(queries, st.integers(1, 6)), min_size=1, max_size=5),
    thresholds,
)
def test_matches_naive_reference(
    loaded: list[ProductView],
    ops: list[tuple[bool, ProductView]],
    searches: list[tuple[str, int]],
    merge_and_dense: tuple[int, int],
) -> None:
    index, model = CatalogIndex(loaded), {view.id: view for view in loaded}
    for put, view in ops:  # puts and removals, with repeated ids: renames and code changes
        if put:
            index.put(view)
            model[view.id] = view
        else:
            assert index.remove(view.id) is (model.pop(view.id, None) is not None)
    assert len(index) == len(model)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catalog_index, "MERGE_MAX", merge_and_dense[0])
        patch.setattr(catalog_index, "DENSE", merge_and_dense[1])
        for q, limit in searches:
            assert ids(index.search(q, limit)) == naive_search(map(NaiveRow.of, model.values()), q, limit)


def test_a_prefix_shared_by_many_words() -> None:
    names_ = ["Chirimoya", "Chicle", "Chile Verde", "Chino", "Chip", "Chimenea", "Choclo", "Pan Chileno"]
    index = index_of(*(product(n, name) for n, name in enumerate(names_, 1)))
    expected = ["Chicle", "Chile Verde", "Chimenea", "Chino", "Chip", "Chirimoya", "Pan Chileno"]
    assert names(index.search("chi")) == expected
    assert names(index.search("chi pan")) == ["Pan Chileno"]
    assert names(index.search("chil")) == ["Chile Verde", "Pan Chileno"]
    assert names(index.search("ver chi")) == ["Chile Verde"]


# -- a full-size catalog --------------------------------------------------------------------------------

FIRST = [
    "Pan",
    "Leche",
    "Queso",
    "Yogur",
    "Arroz",
    "Fideos",
    "Aceite",
    "Azúcar",
    "Café",
    "Té",
    "Galletas",
    "Jugo",
]
SECOND = [
    "Amasado",
    "Entera",
    "Descremada",
    "Gauda",
    "Mantecoso",
    "Integral",
    "Grado 1",
    "Maravilla",
    "Ñandú",
]
THIRD = ["Colún", "Soprole", "Ideal", "Carozzi", "Nestlé", "Watts", "Ñuñoa", "Don Pepe", "La Vaquita"]
SIZES = ["1 kg", "500 g", "1 L", "250 ml", "6 x 350 ml", "2 kg"]


@dataclass
class Big:
    index: CatalogIndex
    views: dict[uuid.UUID, ProductView]
    rows: dict[uuid.UUID, NaiveRow]

    def put(self, view: ProductView) -> None:
        self.index.put(view)
        self.views[view.id] = view
        self.rows[view.id] = NaiveRow.of(view)

    def check(self, q: str, limit: int = 20) -> list[ProductView]:
        found = self.index.search(q, limit)
        assert ids(found) == naive_search(self.rows.values(), q, limit), q
        return found


@pytest.fixture(scope="module")
def big() -> Big:
    """100,000 products, names from a small vocabulary (many share a name: the id breaks the tie)."""
    rng = random.Random(20_956)
    views = {
        view.id: view
        for view in (
            product(
                n,
                f"{rng.choice(FIRST)} {rng.choice(SECOND)} {rng.choice(THIRD)} {rng.choice(SIZES)}",
                sku=f"{n:06d}",
                barcodes=[f"780{n:010d}"],
            )
            for n in range(1, 100_001)
        )
    }
    return Big(CatalogIndex(views.values()), views, {i: NaiveRow.of(v) for i, v in views.items()})


def test_big_catalog_lookups(big: Big) -> None:
    assert len(big.index) == 100_000
    assert big.index.by_code("7800000054321") == big.views[uuid.UUID(int=54_321)]
    assert big.index.by_code("054321") == big.views[uuid.UUID(int=54_321)]
    assert big.index.by_code("7800000100001") is None


@pytest.mark.parametrize(
    "q",
    [
        "p",
        "pan",
        "pan amas colun",
        "ñandu",
        "QUESO gau ñuñoa 500",
        "a",
        "1",
        "0",
        "00",
        "0999",
        "099999",
        "7800000099999",
        "78000000",
        "té",
        "l 1",
        "grado 1 kg",
        "x",
    ],
)
def test_big_catalog_search(big: Big, q: str) -> None:
    big.check(q)


def test_big_catalog_updates(big: Big) -> None:
    # Renames and new products on top of the bulk load go through put(), and must agree with the reference.
    big.put(product(1, "Aaa Primero", sku="000001", barcodes=["7800000000001"]))
    big.put(product(100_001, "Ñandú Dorado", sku="ZZ-1", barcodes=["1111111111116"]))
    big.put(product(500, "Pan Nuevo", sku="PN-500"))
    assert big.check("a")[0].name == "Aaa Primero"
    assert big.check("nandu dor")[0].id == uuid.UUID(int=100_001)
    assert big.check("pan nue")[0].id == uuid.UUID(int=500)
    assert big.check("000500") == []  # the old SKU is gone
    assert big.index.by_code("pn-500") == big.views[uuid.UUID(int=500)]
    big.check("000")
    big.check("zz")


def test_load_equals_puts() -> None:
    rng = random.Random(7)
    views = [
        product(n % 300, f"{rng.choice(FIRST)} {rng.choice(SECOND)}", sku=rng.choice(["", "A1", f"{n:04d}"]))
        for n in range(1, 1_000)
    ]
    loaded, put_one_by_one = CatalogIndex(views), CatalogIndex()
    for view in views:
        put_one_by_one.put(view)
    for q in ["p", "pan", "le des", "a1", "0", "00", "001", "ñ", "gauda queso"]:
        assert ids(loaded.search(q, 50)) == ids(put_one_by_one.search(q, 50)), q
