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

# The floor plan: area -> [(table, seats, x %, y %, shape)].
FLOOR: dict[str, list[tuple[str, int, int, int, str]]] = {
    "Salón": [
        ("M1", 4, 15, 30, "square"),
        ("M2", 4, 38, 30, "square"),
        ("M3", 4, 62, 30, "square"),
        ("M4", 6, 85, 30, "round"),
        ("M5", 2, 15, 70, "round"),
        ("M6", 2, 38, 70, "round"),
        ("M7", 4, 62, 70, "square"),
        ("M8", 8, 85, 70, "square"),
    ],
    "Terraza": [
        ("T1", 2, 20, 50, "round"),
        ("T2", 2, 40, 50, "round"),
        ("T3", 4, 60, 50, "square"),
        ("T4", 4, 80, 50, "square"),
    ],
}

# Modifiers: dish -> [(group, name, price delta in USD cents, IVA included)].
MODIFIERS: dict[str, list[tuple[str, str, int]]] = {
    "Churrasco": [
        ("Punto", "jugoso", 0),
        ("Punto", "a punto", 0),
        ("Punto", "bien cocido", 0),
        ("Agregado", "palta", 80),
        ("Agregado", "huevo extra", 60),
    ],
    "Encebollado": [("Agregado", "chifles", 50), ("Agregado", "palta", 80), ("Sin", "sin cebolla", 0)],
    "Seco de chivo": [("Acompañante", "arroz", 0), ("Acompañante", "maduro frito", 0)],
}
