"""Random secrets from the OS CSPRNG, and the keyed hash they are stored under."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from application.common.ports import SecretGenerator, SecretHasher

TOKEN_BYTES = 32
MIN_KEY_BYTES = 16


class OsSecretGenerator(SecretGenerator):
    def token(self) -> str:
        """A URL-safe token carrying 256 random bits."""
        return secrets.token_urlsafe(TOKEN_BYTES)

    def numeric_code(self, digits: int) -> str:
        """A uniformly drawn code of exactly `digits` digits, leading zeros kept."""
        if digits < 1:
            raise ValueError("a code needs at least one digit")
        return f"{secrets.randbelow(10**digits):0{digits}d}"


class HmacSecretHasher(SecretHasher):
    """Hex HMAC-SHA256 of a secret under a server key.

    Codes and tokens are random, so a fast keyed hash suffices: without the key a stolen table
    cannot be brute-forced, and the hash is deterministic so it can be indexed and looked up.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the HMAC key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def hash(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def matches(self, secret: str, hashed: str) -> bool:
        return hmac.compare_digest(self.hash(secret).encode(), hashed.encode())


class Sha256TokenHasher(SecretHasher):
    """Hex SHA-256 of a long random token (API keys, invitations): no server key involved.

    A 128-bit-or-more random secret cannot be brute-forced from its hash, so no key is needed,
    and credentials that live for months survive a rotation of `ASTRA_JWT_SECRET`. Never use
    it for short secrets such as 6-digit codes: those need `HmacSecretHasher`.
    """

    def hash(self, secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def matches(self, secret: str, hashed: str) -> bool:
        return hmac.compare_digest(self.hash(secret).encode(), hashed.encode())
