"""Fixed reference data the generator draws from: products, names, hostile strings."""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT_BASE = 8_000_000_000_000
VARIANT_BASE = 44_000_000_000_000


@dataclass(frozen=True, slots=True)
class Variant:
    """A product variant as line items reference it."""

    product_id: int
    variant_id: int
    title: str
    variant_title: str | None
    sku: str | None
    vendor: str
    price_cents: int


_PRODUCTS = [
    ("Classic Tee", "Acme Apparel", 2500),
    ("Hoodie", "Acme Apparel", 5900),
    ("Canvas Tote", "Bagworks", 1800),
    ("Ceramic Mug", "Kiln & Co", 1400),
    ("Trail Socks", "Footloose", 1200),
    ("Wool Beanie", "Acme Apparel", 2200),
    ("Notebook A5", "Papeterie", 900),
    ("Espresso Beans 1kg", "Roastery", 3200),
    ("Gift Card", "Demo Store", 5000),
    ("Water Bottle", "Hydra", 2800),
    ("Café Crème Blend", "Roastery", 1650),
    ("Yoga Mat", "Stretch", 6500),
]
_SIZES = ["S", "M", "L"]


def build_catalog() -> list[Variant]:
    """All variants of the demo catalog (a few have no SKU, as real catalogs do)."""
    variants: list[Variant] = []
    for p, (title, vendor, price) in enumerate(_PRODUCTS):
        sizes: list[str | None] = [*_SIZES] if p % 3 == 0 else [None]
        for v, size in enumerate(sizes):
            sku = None if p == 8 else f"SKU-{p:03d}-{v}"
            variants.append(
                Variant(
                    product_id=PRODUCT_BASE + p,
                    variant_id=VARIANT_BASE + p * 4 + v,
                    title=title,
                    variant_title=size,
                    sku=sku,
                    vendor=vendor,
                    price_cents=price + v * 100,
                )
            )
    return variants


PRODUCT_TITLES = {PRODUCT_BASE + p: t for p, (t, _, _) in enumerate(_PRODUCTS)}
PRODUCT_VENDORS = {PRODUCT_BASE + p: v for p, (_, v, _) in enumerate(_PRODUCTS)}

FIRST_NAMES = [
    "Alice",
    "Bob",
    "Chloé",
    "Dmitri",
    "Eva",
    "François",
    "Grace",
    "Hiroshi",
    "Inés",
    "Jamal",
    "Katarzyna",
    "Liam",
    "María",
    "Noah",
    "Olivia",
    "Priya",
    "Quentin",
    "Rosa",
    "Søren",
    "Tomás",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoë",
    "李",
    "Ólafur",
    "Renée",
    "Ægir",
]
LAST_NAMES = [
    "Smith",
    "Müller",
    "García",
    "Nguyen",
    "O'Brien",
    "Kowalski",
    "Rossi",
    "Dubois",
    "Tanaka",
    "Johansson",
    "Silva",
    "Patel",
    "Ivanov",
    "Kim",
    "van der Berg",
    "Núñez",
    "Öztürk",
    "王",
    "López-Ruiz",
    "Björk",
]

# Strings that break naive code: quotes, SQL, markup, emoji, RTL, zero-width, huge.
HOSTILE_STRINGS = [
    "Robert'); DROP TABLE customers;--",
    "<script>alert('x')</script>",
    "😀 Emoji 🎉",
    "\u202eRTL override",
    "zero\u200bwidth",
    'Quote "double" and \\backslash',
    "tab\tand\nnewline",
    "x" * 255,
    "NULL",
    "",
]
TAGS = ["VIP", "wholesale", "newsletter", "returning", "ünïcödé", "🎁 gift", "tag;semi", "'quoted"]
CITIES = [
    ("Portland", "Oregon", "OR", "United States", "US", "97201"),
    ("Toronto", "Ontario", "ON", "Canada", "CA", "M5H 2N2"),
    ("Berlin", "Berlin", "BE", "Germany", "DE", "10115"),
    ("London", "England", "ENG", "United Kingdom", "GB", "SW1A 1AA"),
    ("Paris", "Île-de-France", "IDF", "France", "FR", "75001"),
    ("Sydney", "New South Wales", "NSW", "Australia", "AU", "2000"),
]
