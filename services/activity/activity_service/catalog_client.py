"""Product names from the catalog over REST: a short timeout, one retry, a
few seconds of in-process memory, and an honest ``degraded`` when the catalog
cannot answer."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from sandbox_common.http import get_json
from sandbox_common.logging import get_logger

_log = get_logger(__name__)
NAME_TTL_SECONDS = 5.0
RETRY_DELAY_SECONDS = 0.05


def _split_product_ids(ids: list[str]) -> tuple[list[str], list[str]]:
    products, others = [], []
    for value in ids:
        try:
            uuid.UUID(value)
        except ValueError:
            others.append(value)
        else:
            products.append(value)
    return products, others


class CatalogNames:
    def __init__(self, client: httpx.AsyncClient, *, base_url: str, timeout: float) -> None:
        self._client = client
        self._url = f"{base_url.rstrip('/')}/api/v1/products"
        self._timeout = timeout
        self._names: dict[str, tuple[float, str | None]] = {}

    async def names(self, product_ids: list[str]) -> tuple[dict[str, str | None], bool]:
        """Names by id (None for a deleted product), and whether any are missing
        because the catalog failed."""
        now = time.monotonic()
        # Events may name objects that are no catalog product; those have no name to fetch.
        product_ids, others = _split_product_ids(product_ids)
        known: dict[str, str | None] = dict.fromkeys(others)
        known |= {pid: entry[1] for pid in product_ids
                 if (entry := self._names.get(pid)) and entry[0] > now}  # fmt: skip
        missing = [pid for pid in product_ids if pid not in known]
        if not missing:
            return known, False
        fetched = await self._fetch(missing)
        if fetched is None:
            return {**dict.fromkeys(missing), **known}, True
        expires = now + NAME_TTL_SECONDS
        for pid in missing:
            name = fetched.get(pid)
            self._names[pid] = (expires, name)
            known[pid] = name
        if len(self._names) > 10_000:
            self._names.clear()
        return known, False

    async def _fetch(self, product_ids: list[str]) -> dict[str, str] | None:
        params = {"ids": ",".join(product_ids), "limit": "100"}
        for attempt in range(2):
            try:
                page = await get_json(self._client, self._url, target="catalog", params=params,
                                      timeout=self._timeout)  # fmt: skip
                return {item["id"]: item["name"] for item in page["items"]}
            except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
                _log.warning("catalog names unavailable", attempt=attempt + 1,
                             error=type(exc).__name__)  # fmt: skip
                if attempt == 0:
                    await asyncio.sleep(RETRY_DELAY_SECONDS)
        return None
