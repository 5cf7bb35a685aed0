"""Hand-made JWTs, good and bad, for the authentication tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": "sandbox-user",
        "aud": "sandbox",
        "sub": str(uuid.uuid4()),
        "role": "user",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def sign(key: Ed25519PrivateKey, kid: str, payload: dict[str, Any]) -> str:
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def unsigned(kid: str, payload: dict[str, Any]) -> str:
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."


def hmac_with(secret: bytes, kid: str, payload: dict[str, Any]) -> str:
    """HS256 keyed with ``secret``: the algorithm-confusion attack when the secret is a public key."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
