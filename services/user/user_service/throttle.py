"""Login throttling in Redis: failed attempts counted per account and per
client address in a fixed window. Redis down means no throttling (logged and
counted), not no logins."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sandbox_common.logging import get_logger

_log = get_logger(__name__)


class LoginThrottle:
    def __init__(
        self, redis: Redis, *, max_per_account: int, max_per_client: int, window_seconds: int
    ) -> None:
        self._redis = redis
        self._max_account = max_per_account
        self._max_client = max_per_client
        self._window = window_seconds

    @staticmethod
    def keys(email: str, client: str) -> tuple[str, str]:
        """The Redis keys counting failures of an account and of a client address."""
        account = hashlib.sha256(email.lower().encode()).hexdigest()[:32]
        return f"login:fail:account:{account}", f"login:fail:client:{client}"

    async def retry_after(self, email: str, client: str) -> int | None:
        """Seconds until a throttled login may try again; None when not throttled."""
        account_key, client_key = self.keys(email, client)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(account_key).ttl(account_key).get(client_key).ttl(client_key)
                account, account_ttl, per_client, client_ttl = await pipe.execute()
        except RedisError as exc:
            _log.warning("login throttle unavailable", error=type(exc).__name__)
            return None
        waits = []
        if account is not None and int(account) >= self._max_account:
            waits.append(account_ttl)
        if per_client is not None and int(per_client) >= self._max_client:
            waits.append(client_ttl)
        if not waits:
            return None
        return max(1, *(int(w) for w in waits))

    async def record_failure(self, email: str, client: str) -> None:
        account_key, client_key = self.keys(email, client)
        try:
            # The window starts with the first failure: SET NX EX creates the
            # counter with its expiry, INCR keeps it. (EXPIRE ... NX would do
            # the same in one command, but only on Redis 7, and fail on older.)
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in (account_key, client_key):
                    pipe.set(key, 0, ex=self._window, nx=True).incr(key)
                await pipe.execute()
        except RedisError as exc:
            _log.warning("login throttle unavailable", error=type(exc).__name__)

    async def reset(self, email: str) -> None:
        account_key, _ = self.keys(email, "")
        try:
            await self._redis.delete(account_key)
        except RedisError as exc:
            _log.warning("login throttle unavailable", error=type(exc).__name__)
