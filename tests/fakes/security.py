"""Fast stand-ins for the hashers and the token issuer."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta

from application.common.ports import Clock, SecretHasher
from application.identity.ports import AccessClaims, PasswordHasher, TokenIssuer
from domain.errors import Unauthenticated


class PlainSecretHasher(SecretHasher):
    """SHA-256 without a key: deterministic and one-way, which is all the use cases rely on."""

    def hash(self, secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def matches(self, secret: str, hashed: str) -> bool:
        return self.hash(secret) == hashed


class FakePasswordHasher(PasswordHasher):
    """Not argon2: a readable prefix. Counts calls so tests can see the work done."""

    def __init__(self) -> None:
        self.hash_calls = 0
        self.verify_calls = 0

    async def hash(self, password: str) -> str:
        self.hash_calls += 1
        return f"pw:{password}"

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verify_calls += 1
        return password_hash == f"pw:{password}"


class FakeTokenIssuer(TokenIssuer):
    """Opaque tokens remembered in a dict; expiry follows the given clock.

    A string it never issued is "badly signed" and refused like a forged JWT would be.
    """

    def __init__(self, clock: Clock, lifetime: timedelta = timedelta(minutes=15)) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._issued: dict[str, AccessClaims] = {}
        self._counter = itertools.count(1)

    def issue(self, user_id: str, session_id: str) -> str:
        token = f"jwt-{next(self._counter)}.{user_id}.{session_id}"
        expires_at = self._clock.now() + self._lifetime
        self._issued[token] = AccessClaims(user_id, session_id, expires_at)
        return token

    def read(self, token: str, *, allow_expired: bool = False) -> AccessClaims:
        claims = self._issued.get(token)
        if claims is None:
            raise Unauthenticated("invalid token")
        if not allow_expired and self._clock.now() >= claims.expires_at:
            raise Unauthenticated("token expired")
        return claims
