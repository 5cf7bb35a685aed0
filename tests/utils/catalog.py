"""Catalog helpers: categories and products made through the API as admin."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.utils.api import Account


def ensure_category(catalog: httpx.Client, admin: Account, slug: str = "test-things") -> str:
    response = catalog.post("/api/v1/categories", headers=admin.headers,
                            json={"slug": slug, "name": slug.replace("-", " ").title()})  # fmt: skip
    assert response.status_code in (201, 409), response.text
    return slug


def create_product(catalog: httpx.Client, admin: Account, **fields: Any) -> dict[str, Any]:
    body = {
        "sku": f"T-{uuid.uuid4().hex[:12]}",
        "name": f"Test product {uuid.uuid4().hex[:6]}",
        "description": "made by a test",
        "price": "19.99",
        **fields,
    }
    response = catalog.post("/api/v1/products", headers=admin.headers, json=body)
    assert response.status_code == 201, response.text
    product: dict[str, Any] = response.json()
    return product
