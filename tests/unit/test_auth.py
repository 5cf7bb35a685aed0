"""TokenVerifier against hand-made tokens, no servers involved."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sandbox_common.auth import JwksKeySource, Principal, StaticKeySource, TokenVerifier
from sandbox_common.errors import Unauthorized
from tests.utils import tokens
from user_service.security import public_jwk

KEY = Ed25519PrivateKey.generate()
KID = public_jwk(KEY.public_key())["kid"]


def verifier() -> TokenVerifier:
    return TokenVerifier(StaticKeySource({KID: KEY.public_key()}), issuer="sandbox-user",
                         audience="sandbox")  # fmt: skip


def verify(token: str) -> Principal:
    return asyncio.run(verifier().verify(token))


def test_a_valid_token_gives_its_principal() -> None:
    principal = verify(tokens.sign(KEY, KID, tokens.claims(sub="u-1", role="admin", jti="j")))
    assert principal == Principal(user_id="u-1", role="admin", token_id="j")


@pytest.mark.parametrize(
    "token",
    [
        tokens.unsigned(KID, tokens.claims()),
        tokens.hmac_with(tokens.public_pem(KEY), KID, tokens.claims()),
        tokens.hmac_with(b"secret", KID, tokens.claims()),
        tokens.sign(Ed25519PrivateKey.generate(), KID, tokens.claims()),
        tokens.sign(KEY, KID, tokens.claims(exp=int(time.time()) - 60)),
        tokens.sign(KEY, KID, tokens.claims(nbf=int(time.time()) + 600)),
        tokens.sign(KEY, KID, tokens.claims(iat=int(time.time()) + 600)),
        tokens.sign(KEY, KID, tokens.claims(aud="another")),
        tokens.sign(KEY, KID, tokens.claims(iss="another")),
        tokens.sign(KEY, KID, tokens.claims(jti=None)),
        tokens.sign(KEY, KID, tokens.claims(role="superuser")),
        tokens.sign(KEY, "unknown", tokens.claims()),
        jwt.encode(tokens.claims(), KEY, algorithm="EdDSA"),
        "a.b.c",
        "",
    ],
    ids=[
        "none",
        "hmac-public-key",
        "hmac",
        "other-key",
        "expired",
        "nbf-future",
        "iat-future",
        "aud",
        "iss",
        "no-jti",
        "role",
        "unknown-kid",
        "no-kid",
        "junk",
        "empty",
    ],  # fmt: skip
)
def test_bad_tokens_are_unauthorized(token: str) -> None:
    with pytest.raises(Unauthorized) as raised:
        verify(token)
    assert raised.value.headers == {"WWW-Authenticate": "Bearer"}


class TestVerifiedTokens:
    """A token verified once is taken again without a signature check, but
    never past its expiry or the key that verified it."""

    def test_a_verified_token_is_not_decoded_again(self, monkeypatch: pytest.MonkeyPatch) -> None:
        decodes = []
        real = jwt.decode
        monkeypatch.setattr(jwt, "decode", lambda *a, **k: decodes.append(1) or real(*a, **k))
        check = verifier()
        token = tokens.sign(KEY, KID, tokens.claims(sub="u-2", jti="j2"))
        first = asyncio.run(check.verify(token))
        again = asyncio.run(check.verify(token))
        assert first == again == Principal(user_id="u-2", role="user", token_id="j2")
        assert len(decodes) == 1

    def test_a_remembered_token_expires(self) -> None:
        check = TokenVerifier(StaticKeySource({KID: KEY.public_key()}), issuer="sandbox-user",
                              audience="sandbox", leeway=0)  # fmt: skip
        expires = int(time.time()) + 2
        token = tokens.sign(KEY, KID, tokens.claims(exp=expires))
        asyncio.run(check.verify(token))
        time.sleep(expires - time.time() + 0.1)
        with pytest.raises(Unauthorized, match="Token expired"):
            asyncio.run(check.verify(token))

    def test_a_remembered_token_ends_with_its_key(self) -> None:
        keys = {KID: KEY.public_key()}
        check = TokenVerifier(StaticKeySource(keys), issuer="sandbox-user", audience="sandbox")
        token = tokens.sign(KEY, KID, tokens.claims())
        asyncio.run(check.verify(token))
        check._keys = StaticKeySource({KID: Ed25519PrivateKey.generate().public_key()})
        with pytest.raises(Unauthorized):
            asyncio.run(check.verify(token))
        check._keys = StaticKeySource({})
        with pytest.raises(Unauthorized):
            asyncio.run(check.verify(token))

    def test_the_memory_is_bounded_and_holds_no_bad_token(self) -> None:
        check = TokenVerifier(StaticKeySource({KID: KEY.public_key()}), issuer="sandbox-user",
                              audience="sandbox", cache_size=2)  # fmt: skip
        for n in range(3):
            asyncio.run(check.verify(tokens.sign(KEY, KID, tokens.claims(jti=f"j{n}"))))
        with pytest.raises(Unauthorized):
            asyncio.run(check.verify(tokens.sign(KEY, KID, tokens.claims(aud="another"))))
        assert [v.principal.token_id for v in check._verified.values()] == ["j1", "j2"]


class TestJwksSingleFlight:
    """JwksKeySource against a mock JWKS endpoint that counts its fetches."""

    @staticmethod
    def source(handler: object, **kwargs: float) -> JwksKeySource:
        client = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
        return JwksKeySource("http://user/.well-known/jwks.json", client=client, **kwargs)

    def test_waiters_for_an_unknown_kid_share_one_fetch(self) -> None:
        fetches = []

        async def handler(request: httpx.Request) -> httpx.Response:
            fetches.append(request)
            await asyncio.sleep(0.05)
            return httpx.Response(200, json={"keys": [public_jwk(KEY.public_key())]})

        async def scenario() -> list[object]:
            keys = self.source(handler)
            return await asyncio.gather(*(keys.get(KID) for _ in range(20)))

        found = asyncio.run(scenario())
        assert len(fetches) == 1
        assert all(key is not None for key in found)

    def test_with_the_user_service_down_they_share_one_failure(self) -> None:
        fetches = []

        async def handler(request: httpx.Request) -> httpx.Response:
            fetches.append(request)
            await asyncio.sleep(0.05)
            raise httpx.ConnectError("refused", request=request)

        async def scenario() -> tuple[list[object], object]:
            keys = self.source(handler, min_refresh_interval=60)
            first = await asyncio.gather(*(keys.get(KID) for _ in range(20)))
            return first, await keys.get(KID)  # within the interval: no new try

        first, again = asyncio.run(scenario())
        assert len(fetches) == 1
        assert first == [None] * 20
        assert again is None

    def test_a_known_kid_keeps_verifying_while_a_stale_cache_refreshes(self) -> None:
        fetches = []
        release = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            fetches.append(request)
            if len(fetches) > 1:
                await release.wait()  # the refresh hangs until the test lets it go
            return httpx.Response(200, json={"keys": [public_jwk(KEY.public_key())]})

        async def scenario() -> list[object]:
            keys = self.source(handler, ttl=0.0, min_refresh_interval=0.0)
            await keys.get(KID)  # the first fetch fills the cache
            await asyncio.sleep(0.01)  # ...which is now stale
            # Each of these would hang if it waited for the refresh.
            found = await asyncio.wait_for(asyncio.gather(*(keys.get(KID) for _ in range(20))), 5)
            release.set()
            return found

        found = asyncio.run(scenario())
        assert all(key is not None for key in found)
        assert len(fetches) == 2  # the first, and one refresh for all twenty
