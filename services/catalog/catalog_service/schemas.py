"""Wire types of the catalog. Prices travel as decimal strings with two places."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    model_validator,
)

Money = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("9999999999.99"), max_digits=12, decimal_places=2),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                       pattern=r"^[A-Za-z0-9._-]+$")]  # fmt: skip
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=5000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Sort = Literal["price", "-price", "name", "-created_at"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryCreate(_Request):
    slug: Slug
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CategoryPublic(BaseModel):
    id: int
    slug: str
    name: str


class CategoryList(BaseModel):
    items: list[CategoryPublic]


class ProductCreate(_Request):
    sku: Sku
    name: Name
    description: Description = ""
    price: Money
    currency: Currency = "USD"
    category: Slug | None = None
    stock: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0


class ProductUpdate(_Request):
    sku: Sku | None = None
    name: Name | None = None
    description: Description | None = None
    price: Money | None = None
    currency: Currency | None = None
    category: Slug | None = None
    stock: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None

    @model_validator(mode="after")
    def _only_category_may_be_null(self) -> ProductUpdate:
        for name in self.model_fields_set - {"category"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ProductPublic(BaseModel):
    id: uuid.UUID
    sku: str
    name: str
    description: str
    price: Money
    currency: str
    category: str | None
    stock: int
    created_at: datetime
    updated_at: datetime


class ProductPage(BaseModel):
    items: list[ProductPublic]
    next_cursor: str | None
