"""TokenVerifier against hand-made tokens, no servers involved."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sandbox_common.auth import Principal, StaticKeySource, TokenVerifier
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
