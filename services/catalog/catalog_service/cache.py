"""Cache-aside for single products in Redis, safe against a slow fill racing
a write.

Every product has a generation counter. A reader notes the generation before
it reads PostgreSQL and stores its result only if the generation is still the
same (one Lua script, so check and set are atomic). A writer, after its
commit, bumps the generation and deletes the entry. A fill that started before
the write therefore can never land after it: no reader sees a stale product
once the write has returned. Redis errors are counted and reads fall back to
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sandbox_common import metrics
from sandbox_common.logging import get_logger

CACHE = "product"
GENERATION_TTL_SECONDS = 7 * 24 * 3600
_log = get_logger(__name__)

# KEYS[1] entry, KEYS[2] generation; ARGV[1] generation seen, ARGV[2] value, ARGV[3] ttl
_SET_IF_GENERATION = """
local current = redis.call('GET', KEYS[2]) or '0'
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


def _keys(product_id: uuid.UUID) -> tuple[str, str]:
    return f"catalog:product:{product_id}", f"catalog:product:{product_id}:gen"


class ProductCache:
    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._set_if_generation = redis.register_script(_SET_IF_GENERATION)

    async def get(self, product_id: uuid.UUID) -> tuple[bytes | None, str | None]:
        """The cached entry (or None) and the generation to fill with on a miss.

        A generation of None means Redis failed: read the database, don't fill.
        """
        entry_key, gen_key = _keys(product_id)
        try:
            entry, generation = await self._redis.mget(entry_key, gen_key)
        except RedisError as exc:
            metrics.CACHE_REQUESTS.labels(CACHE, "error").inc()
            metrics.CACHE_FALLBACKS.labels(CACHE).inc()
            _log.warning("cache read failed; serving from the database",
                         error=type(exc).__name__)  # fmt: skip
            return None, None
        if entry is not None:
            metrics.CACHE_REQUESTS.labels(CACHE, "hit").inc()
            return entry, None
        metrics.CACHE_REQUESTS.labels(CACHE, "miss").inc()
        return None, (generation or b"0").decode()

    async def fill(self, product_id: uuid.UUID, generation: str, value: bytes) -> None:
        entry_key, gen_key = _keys(product_id)
        try:
            await self._set_if_generation(keys=[entry_key, gen_key],
                                          args=[generation, value, self._ttl])  # fmt: skip
        except RedisError as exc:
            _log.warning("cache fill failed", error=type(exc).__name__)

    async def invalidate(self, product_id: uuid.UUID, *, attempts: int = 3) -> None:
        """After a committed write: bump the generation, drop the entry."""
        entry_key, gen_key = _keys(product_id)
        for attempt in range(attempts):
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(gen_key).expire(gen_key, GENERATION_TTL_SECONDS).delete(entry_key)
                    await pipe.execute()
                return
            except RedisError as exc:
                if attempt == attempts - 1:
                    # Readers that reach this Redis again may see the old entry
                    # until its TTL ends; say so loudly.
                    metrics.CACHE_REQUESTS.labels(CACHE, "error").inc()
                    _log.error("cache invalidation failed", product_id=str(product_id),
                               error=type(exc).__name__)  # fmt: skip
                    return
                await asyncio.sleep(0.05 * 2**attempt)
