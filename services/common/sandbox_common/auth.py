"""Access-token verification for every service.

Tokens are EdDSA-signed JWTs from the user service. Other services verify them
against its JWKS (cached; fetched again when an unknown ``kid`` appears, at most
once per ``min_refresh_interval``). Only the asymmetric algorithm is accepted,
so ``alg: none`` and HMAC tokens signed with the public key fail before any
signature check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from sandbox_common import metrics
from sandbox_common.errors import Forbidden, Unauthorized
from sandbox_common.http import get_json
from sandbox_common.logging import get_logger
from sandbox_common.settings import CommonSettings

ALGORITHMS = ("EdDSA",)
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub", "jti"]
Role = Literal["user", "admin"]
_log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid access token speaks for."""

    user_id: str
    role: Role
    token_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class KeySource(Protocol):
    async def get(self, kid: str) -> Any | None:
        """The verification key for ``kid``, or None when there is none."""


class StaticKeySource:
    """Keys known in-process (the user service verifies with its own keys)."""

    def __init__(self, keys: Mapping[str, Any]) -> None:
        self._keys = dict(keys)

    async def get(self, kid: str) -> Any | None:
        return self._keys.get(kid)


class JwksKeySource:
    """Keys read from a JWKS URL, cached for ``ttl`` seconds.

    One fetch at a time serves every request that waits for it (single
    flight): N requests with an unknown ``kid`` cause one fetch, not N in a
    row, and with the user service down they share one timeout. A known
    ``kid`` never waits: when the cache is stale it keeps verifying with the
    key it has while one fetch runs in the background. A fetch starts at most
    once per ``min_refresh_interval``, so neither tokens with made-up ``kid``
    values nor a user service that is down make it hammer the user service."""

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        ttl: float = 600.0,
        min_refresh_interval: float = 10.0,
    ) -> None:
        self._url = url
        self._client = client
        self._ttl = ttl
        self._min_interval = min_refresh_interval
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")  # the last fetch that worked
        self._attempted_at = float("-inf")  # the last fetch started
        self._inflight: asyncio.Task[None] | None = None

    async def get(self, kid: str) -> Any | None:
        now = time.monotonic()
        due = now - self._attempted_at > self._min_interval
        if kid in self._keys:
            if now - self._fetched_at > self._ttl and due:
                self._start_fetch()
            return self._keys[kid]
        if due:
            self._start_fetch()
        if self._inflight is not None and not self._inflight.done():
            # shield: a waiter that gives up does not cancel the others' fetch
            await asyncio.shield(self._inflight)
        return self._keys.get(kid)

    def _start_fetch(self) -> None:
        if self._inflight is None or self._inflight.done():
            self._attempted_at = time.monotonic()
            self._inflight = asyncio.create_task(self._fetch())

    async def _fetch(self) -> None:
        try:
            document = await get_json(self._client, self._url, target="user-jwks", timeout=2.0)
            keys = {}
            for jwk in document.get("keys", []):
                if "kid" in jwk:
                    keys[jwk["kid"]] = jwt.PyJWK.from_dict(jwk).key
        except (httpx.HTTPError, ValueError, AttributeError, jwt.PyJWTError) as exc:
            metrics.JWKS_REFRESHES.labels("error").inc()
            _log.warning("jwks refresh failed", error=type(exc).__name__)
            return  # the keys we had keep serving; the next try comes after the interval
        metrics.JWKS_REFRESHES.labels("success").inc()
        self._keys = keys
        self._fetched_at = time.monotonic()


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    kid: str
    key: Any  # the key that verified it: a token outlives no key change
    expires_at: float


class TokenVerifier:
    """Verifies access tokens, and remembers the ones it verified.

    A client sends the same token with every request until it expires, and an
    EdDSA signature check with PyJWT's claim checks costs more than the rest
    of a cached read. A token verified once is taken again without either,
    while its ``exp`` (with the leeway) has not passed and its ``kid`` still
    maps to the key that verified it: a key rotated out of the JWKS ends its
    tokens here too. Only verified tokens are remembered (made-up ones cannot
    fill the memory), at most ``cache_size``, the oldest forgotten first."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: int = 5,
        cache_size: int = 4096,
    ) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._cache_size = cache_size
        self._verified: dict[str, _Verified] = {}

    async def verify(self, token: str) -> Principal:
        """The principal of a valid access token; :class:`Unauthorized` otherwise."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() < known.expires_at and await self._keys.get(known.kid) is known.key:
                return known.principal
            self._verified.pop(token, None)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc
        kid = header.get("kid")
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str):
            raise Unauthorized("Invalid token")
        key = await self._keys.get(kid)
        if key is None:
            raise Unauthorized("Invalid token")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc
        role = claims.get("role")
        if role not in ("user", "admin") or not isinstance(claims["sub"], str):
            raise Unauthorized("Invalid token")
        principal = Principal(user_id=claims["sub"], role=role, token_id=str(claims["jti"]))
        self._remember(token, _Verified(principal, kid, key, int(claims["exp"]) + self._leeway))
        return principal

    def _remember(self, token: str, verified: _Verified) -> None:
        if len(self._verified) >= self._cache_size:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = verified


def jwks_verifier(settings: CommonSettings, *, client: httpx.AsyncClient) -> TokenVerifier:
    """How a service that signs no tokens verifies them: with the user service's JWKS."""
    return TokenVerifier(JwksKeySource(settings.jwks_url, client=client),
                         issuer=settings.jwt_issuer, audience=settings.jwt_audience)  # fmt: skip


# The token URL is the user service's; catalog and activity list it for /docs.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


async def optional_principal(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal | None:
    """None without a token; a bad token is still a 401."""
    if token is None:
        return None
    return await _verifier(request).verify(token)


async def principal_from_header(
    verifier: TokenVerifier, authorization: str | None
) -> Principal | None:
    """What :func:`optional_principal` gives, from the raw ``Authorization``
    header, read as ``oauth2_scheme`` reads it: no header, or another scheme
    than Bearer, is no principal; a bad bearer token is a 401."""
    scheme, token = get_authorization_scheme_param(authorization)
    if not authorization or scheme.lower() != "bearer":
        return None
    return await verifier.verify(token)


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise Unauthorized()
    return principal


async def admin_principal(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Admin role required")
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
AdminPrincipal = Annotated[Principal, Depends(admin_principal)]
