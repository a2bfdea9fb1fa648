"""The Ecuadorian restaurant's menu: category -> [(name, price in USD cents, before IVA)], and stations."""

from __future__ import annotations

MENU: dict[str, list[tuple[str, int]]] = {
    "Entradas": [
        ("Bolón de verde con queso", 350),
        ("Bolón mixto", 450),
        ("Empanada de viento", 200),
        ("Patacones con queso", 400),
        ("Humita", 250),
        ("Tortilla de yuca", 300),
    ],
    "Sopas": [("Encebollado", 650), ("Locro de papa", 500), ("Caldo de bola", 700), ("Sopa de quinua", 450)],
    "Platos fuertes": [
        ("Seco de pollo", 850),
        ("Seco de chivo", 1100),
        ("Churrasco", 1000),
        ("Llapingachos", 900),
        ("Ceviche de camarón", 1200),
        ("Arroz con menestra y carne asada", 950),
        ("Fritada", 1050),
        ("Encocado de pescado", 1250),
        ("Guatita", 800),
    ],
    "Bebidas": [
        ("Jugo de naranjilla", 250),
        ("Jugo de mora", 250),
        ("Limonada", 200),
        ("Agua sin gas", 150),
        ("Cola", 200),
        ("Cerveza nacional", 350),
        ("Café pasado", 180),
        ("Canelazo", 400),
    ],
    "Postres": [
        ("Colada morada con guagua de pan", 350),
        ("Higos con queso", 400),
        ("Helado de paila", 300),
        ("Dulce de tres leches", 380),
    ],
}

# (code, name, categories routed to it)
STATIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("CAL", "Cocina caliente", ("Entradas", "Sopas", "Platos fuertes")),
    ("FRI", "Fríos y bar", ("Bebidas", "Postres")),
]
