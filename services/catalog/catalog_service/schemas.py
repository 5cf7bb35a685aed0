"""Wire types of the catalog. Prices travel as decimal strings with two places."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from sandbox_common.schemas import Name100, Name200, RequestModel, Text5000, json_number

# A price as clients send it: a decimal string of up to 10 digits before the
# point and 2 after ("19.99", "5"), never a float, whose binary value would
# not be the price meant.
PRICE_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


def _price(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    # fullmatch: "$" ends the text, as in JSON Schema (Python's would allow a "\n")
    if isinstance(value, str) and re.fullmatch(PRICE_PATTERN, value):
        return Decimal(value)
    raise ValueError('a price is a string such as "19.99": up to 10 digits, then up to 2 decimals')


Price = Annotated[
    Decimal,
    BeforeValidator(_price),
    WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "examples": ["19.99"]}),
]
Money = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("9999999999.99"), max_digits=12, decimal_places=2),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
]
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=64)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Name = Name200
Description = Text5000
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Stock = Annotated[int, Field(ge=0, le=1_000_000_000), BeforeValidator(json_number)]
MAX_IDS = 100
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# `ids`: 1 to MAX_IDS product ids, comma-separated.
IDS_PATTERN = rf"^{_UUID}(,{_UUID}){{0,{MAX_IDS - 1}}}$"
Sort = Literal["price", "-price", "name", "-created_at"]


class CategoryCreate(RequestModel):
    slug: Slug
    name: Name100


class CategoryPublic(BaseModel):
    id: int
    slug: str
    name: str


class CategoryList(BaseModel):
    items: list[CategoryPublic]


class ProductCreate(RequestModel):
    sku: Sku
    name: Name
    description: Description = ""
    price: Price
    currency: Currency = "USD"
    category: Slug | None = None
    stock: Stock = 0


class ProductUpdate(RequestModel):
    """Any product fields; only the category may be null (no category)."""

    sku: Sku | SkipJsonSchema[None] = None
    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    price: Price | SkipJsonSchema[None] = None
    currency: Currency | SkipJsonSchema[None] = None
    category: Slug | None = None
    stock: Stock | SkipJsonSchema[None] = None

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
