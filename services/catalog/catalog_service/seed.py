"""``sandbox-seed``: an idempotent demo catalog (24 categories, 10,000
products) loaded with one multi-row insert per table, in seconds.

Products get stable SKUs (``DEMO-00001``…), so running it again inserts
nothing new (``ON CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from catalog_service.config import CatalogDatabaseSettings
from catalog_service.models import Category, Product
from sandbox_common.db import create_sync_db

CATEGORIES = {
    "laptops": ("Laptops", ["Ultrabook", "Gaming Laptop", "Chromebook", "Workstation"]),
    "phones": ("Phones", ["Smartphone", "Rugged Phone", "Flip Phone", "Phablet"]),
    "tablets": ("Tablets", ["Tablet", "E-Reader", "Drawing Tablet"]),
    "audio": ("Audio", ["Headphones", "Earbuds", "Soundbar", "Speaker"]),
    "cameras": ("Cameras", ["Mirrorless Camera", "Action Camera", "Lens", "Tripod"]),
    "gaming": ("Gaming", ["Controller", "Console", "Gaming Mouse", "Headset"]),
    "monitors": ("Monitors", ["4K Monitor", "Ultrawide Monitor", "Portable Monitor"]),
    "storage": ("Storage", ["SSD", "Hard Drive", "USB Stick", "NAS"]),
    "networking": ("Networking", ["Router", "Mesh Wi-Fi", "Switch", "Access Point"]),
    "smart-home": ("Smart Home", ["Smart Bulb", "Thermostat", "Doorbell", "Smart Plug"]),
    "wearables": ("Wearables", ["Smartwatch", "Fitness Band", "Smart Ring"]),
    "kitchen": ("Kitchen", ["Espresso Machine", "Blender", "Air Fryer", "Kettle"]),
    "books": ("Books", ["Novel", "Cookbook", "Travel Guide", "Programming Book"]),
    "outdoor": ("Outdoor", ["Tent", "Sleeping Bag", "Backpack", "Headlamp"]),
    "fitness": ("Fitness", ["Yoga Mat", "Dumbbell Set", "Treadmill", "Kettlebell"]),
    "office": ("Office", ["Desk Chair", "Standing Desk", "Desk Lamp", "Notebook"]),
    "toys": ("Toys", ["Building Set", "Puzzle", "Board Game", "Plush Toy"]),
    "garden": ("Garden", ["Hose", "Pruner", "Lawn Mower", "Planter"]),
    "bikes": ("Bikes", ["Road Bike", "Mountain Bike", "E-Bike", "Bike Light"]),
    "music": ("Music", ["Guitar", "Keyboard", "Microphone", "Drum Pad"]),
    "beauty": ("Beauty", ["Hair Dryer", "Shaver", "Toothbrush", "Mirror"]),
    "pets": ("Pets", ["Dog Bed", "Cat Tree", "Pet Feeder", "Leash"]),
    "travel": ("Travel", ["Suitcase", "Travel Pillow", "Packing Cubes", "Adapter"]),
    "tools": ("Tools", ["Drill", "Screwdriver Set", "Tool Box", "Laser Level"]),
}
ADJECTIVES = ["Compact", "Pro", "Ultra", "Classic", "Eco", "Smart", "Wireless", "Deluxe",
              "Mini", "Max", "Lite", "Premium", "Rugged", "Silent", "Swift", "Bright"]  # fmt: skip
BRANDS = ["Acme", "Nimbus", "Orion", "Vertex", "Lumen", "Zephyr", "Kestrel", "Helix",
          "Quanta", "Borealis", "Cobalt", "Tundra"]  # fmt: skip
COLOURS = ["black", "white", "silver", "blue", "red", "green", "graphite", "sand"]


def demo_products(count: int, category_ids: dict[str, int]) -> list[dict[str, object]]:
    rng = random.Random(20261125)  # same catalog on every run
    slugs = sorted(category_ids)
    rows = []
    for n in range(1, count + 1):
        slug = slugs[n % len(slugs)]
        kind = rng.choice(CATEGORIES[slug][1])
        brand, adjective, colour = rng.choice(BRANDS), rng.choice(ADJECTIVES), rng.choice(COLOURS)
        price = Decimal(rng.lognormvariate(4.0, 1.0)).quantize(Decimal("0.01")) + Decimal("1")
        rows.append(
            {
                "sku": f"DEMO-{n:05d}",
                "name": f"{brand} {adjective} {kind} {n}",
                "description": f"A {colour} {adjective.lower()} {kind.lower()} by {brand}, "
                f"model {n}. Rated {rng.randint(1, 5)} stars by testers.",
                "price": min(price, Decimal("99999.99")),
                "currency": "USD",
                "category_id": category_ids[slug],
                "stock": rng.randint(0, 500),
            }
        )
    return rows


def seed(url: str, *, products: int) -> tuple[int, int]:
    engine = create_sync_db(url)
    with engine.begin() as conn:
        conn.execute(
            insert(Category)
            .values([{"slug": s, "name": n} for s, (n, _) in CATEGORIES.items()])
            .on_conflict_do_nothing(index_elements=["slug"])
        )
        category_ids = dict(
            conn.execute(
                select(Category.slug, Category.id).where(Category.slug.in_(CATEGORIES))
            ).all()
        )
        demo = Product.sku.like("DEMO-%")
        before = conn.execute(select(func.count()).where(demo)).scalar_one()
        # One executemany: SQLAlchemy batches it into multi-row INSERTs itself.
        conn.execute(
            insert(Product).on_conflict_do_nothing(index_elements=["sku"]),
            demo_products(products, category_ids),
        )
        inserted = conn.execute(select(func.count()).where(demo)).scalar_one() - before
    engine.dispose()
    return len(category_ids), inserted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sandbox-seed", description=__doc__)
    parser.add_argument("--products", type=int, default=10_000)
    args = parser.parse_args(argv)
    try:
        url = CatalogDatabaseSettings().catalog_database_url  # type: ignore[call-arg]
    except ValidationError:
        parser.error("SANDBOX_CATALOG_DATABASE_URL is not set")
    started = time.perf_counter()
    categories, inserted = seed(url, products=args.products)
    print(f"seeded {categories} categories and {inserted} new products "
          f"(of {args.products}) in {time.perf_counter() - started:.1f}s")  # fmt: skip


if __name__ == "__main__":
    main()
