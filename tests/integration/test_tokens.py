"""Bad access tokens are 401 with ``WWW-Authenticate: Bearer`` in every
service: the user service verifies with its own keys, catalog and activity
with the keys published in its JWKS."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.utils import tokens
from tests.utils.api import Account, assert_error

# One protected endpoint per service.
PROTECTED = {
    "user": ("GET", "/api/v1/users/me"),
    "catalog": ("POST", "/api/v1/products/00000000-0000-0000-0000-000000000000/like"),
    "activity": ("GET", "/api/v1/activity/me"),
}


@pytest.fixture(scope="module")
def signing_key(env: dict[str, str]) -> Ed25519PrivateKey:
    return tokens.load_private_key(env["SANDBOX_JWT_PRIVATE_KEY_FILE"])


@pytest.fixture(scope="module")
def kid(user_api: httpx.Client) -> str:
    return str(user_api.get("/.well-known/jwks.json").json()["keys"][0]["kid"])


def _call(apis: dict[str, httpx.Client], service: str, token: str) -> httpx.Response:
    method, path = PROTECTED[service]
    return apis[service].request(method, path, headers={"Authorization": f"Bearer {token}"})


BadToken = Callable[[Ed25519PrivateKey, str, str], str]

BAD_TOKENS: dict[str, BadToken] = {
    "alg none": lambda key, kid, sub: tokens.unsigned(kid, tokens.claims(sub=sub)),
    "HMAC keyed with the public key": lambda key, kid, sub: tokens.hmac_with(
        tokens.public_pem(key), kid, tokens.claims(sub=sub)
    ),
    "another key with the same kid": lambda key, kid, sub: tokens.sign(
        Ed25519PrivateKey.generate(), kid, tokens.claims(sub=sub)
    ),
    "expired": lambda key, kid, sub: tokens.sign(
        key,
        kid,
        tokens.claims(
            sub=sub,
            iat=int(time.time()) - 3600,
            nbf=int(time.time()) - 3600,
            exp=int(time.time()) - 60,
        ),
    ),  # fmt: skip
    "not yet valid": lambda key, kid, sub: tokens.sign(
        key, kid, tokens.claims(sub=sub, nbf=int(time.time()) + 600)
    ),
    "wrong aud": lambda key, kid, sub: tokens.sign(key, kid, tokens.claims(sub=sub, aud="other")),
    "wrong iss": lambda key, kid, sub: tokens.sign(key, kid, tokens.claims(sub=sub, iss="evil")),
    "unknown kid": lambda key, kid, sub: tokens.sign(key, "no-such-kid", tokens.claims(sub=sub)),
    "no kid": lambda key, kid, sub: jwt.encode(tokens.claims(sub=sub), key, algorithm="EdDSA"),
    "missing exp": lambda key, kid, sub: tokens.sign(key, kid, tokens.claims(sub=sub, exp=None)),
    "unknown role": lambda key, kid, sub: tokens.sign(
        key, kid, tokens.claims(sub=sub, role="root")
    ),
    "malformed": lambda key, kid, sub: "not.a.jwt",
    "garbage": lambda key, kid, sub: "%%%%",
}


@pytest.mark.parametrize("service", sorted(PROTECTED))
@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_bad_tokens_are_401(
    apis: dict[str, httpx.Client], signing_key: Ed25519PrivateKey, kid: str, account: Account,
    service: str, case: str,
) -> None:  # fmt: skip
    token = BAD_TOKENS[case](signing_key, kid, account.id)
    response = _call(apis, service, token)
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("service", sorted(PROTECTED))
def test_a_good_token_made_with_the_real_key_is_accepted(
    apis: dict[str, httpx.Client],
    signing_key: Ed25519PrivateKey,
    kid: str,
    account: Account,
    service: str,
) -> None:
    # The control for the cases above: same construction, valid claims.
    token = tokens.sign(signing_key, kid, tokens.claims(sub=account.id))
    response = _call(apis, service, token)
    assert response.status_code in (200, 204, 404), response.text


def test_a_user_token_on_an_admin_route_is_403(
    apis: dict[str, httpx.Client], account: Account
) -> None:
    response = apis["user"].get("/api/v1/users", headers=account.headers)
    assert_error(response, 403)
    response = apis["catalog"].post("/api/v1/categories", headers=account.headers,
                                    json={"slug": "nope", "name": "Nope"})  # fmt: skip
    assert_error(response, 403)
