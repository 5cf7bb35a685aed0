"""Password hashing (argon2id) and access-token signing (EdDSA with ``kid``)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# argon2id at OWASP's recommended cost for password storage (m=19 MiB, t=2,
# p=1): about 8x cheaper than argon2-cffi's defaults (RFC 9106's low-memory
# profile, 64 MiB, t=3, p=4) at a comparable strength. SANDBOX_PASSWORD_HASH_*
# change it (UserSettings); a hash made with other parameters is redone at
# the next successful login (needs_rehash).
TIME_COST, MEMORY_KIB, PARALLELISM = 2, 19 * 1024, 1
_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)
# Verified when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def configure_hashing(*, time_cost: int, memory_kib: int, parallelism: int) -> None:
    """Hash (and check for rehashing) with these argon2id parameters from now on."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_refresh_token() -> tuple[str, str]:
    """A refresh token and the SHA-256 digest that is stored instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    # RFC 7638 thumbprint: a kid that changes exactly when the key does.
    thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":")).encode()).digest()
    return {**jwk, "kid": _b64(thumbprint), "use": "sig", "alg": "EdDSA"}


def _load_public_keys(path: Path) -> Iterable[Ed25519PublicKey]:
    blocks = path.read_text().split("-----END PUBLIC KEY-----")
    for block in blocks:
        if "BEGIN PUBLIC KEY" in block:
            pem = (block.strip() + "\n-----END PUBLIC KEY-----\n").encode()
            key = serialization.load_pem_public_key(pem)
            if isinstance(key, Ed25519PublicKey):
                yield key


@dataclass(frozen=True)
class TokenSigner:
    private_key: Ed25519PrivateKey
    kid: str
    issuer: str
    audience: str
    ttl_seconds: int
    published: tuple[dict[str, str], ...]

    @classmethod
    def from_files(
        cls,
        private_key_file: Path,
        *,
        previous_public_keys_file: Path | None,
        issuer: str,
        audience: str,
        ttl_seconds: int,
    ) -> TokenSigner:
        key = serialization.load_pem_private_key(private_key_file.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the JWT signing key must be an Ed25519 private key")
        current = public_jwk(key.public_key())
        published = [current]
        if previous_public_keys_file is not None:
            published += [public_jwk(k) for k in _load_public_keys(previous_public_keys_file)]
        return cls(key, current["kid"], issuer, audience, ttl_seconds, tuple(published))

    def verification_keys(self) -> dict[str, Any]:
        return {jwk["kid"]: jwt.PyJWK.from_dict(jwk).key for jwk in self.published}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": list(self.published)}

    def issue(self, *, user_id: str, role: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})


def generate_private_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
