"""Short-lived HS256 access tokens (PyJWT) that carry the user and session ids."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

import jwt

from adapters.security.clock import SystemClock
from application.common.ports import Clock
from application.identity.ports import AccessClaims, TokenIssuer
from domain.errors import Unauthenticated

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
REQUIRED_CLAIMS = ("sub", "sid", "iss", "aud", "exp", "iat", "jti")
VERIFIED_CACHE_SIZE = 10_000


class JwtTokenIssuer(TokenIssuer):
    """Signs and reads access tokens; every problem reads as `Unauthenticated`.

    Time comes from the injected clock, never from PyJWT's own `time.time()`, so tests with a
    fixed clock and production agree on what "expired" means.
    """

    def __init__(
        self,
        secret: str,
        issuer: str,
        audience: str,
        ttl_seconds: int = 900,
        *,
        clock: Clock | None = None,
    ) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the JWT secret needs at least {MIN_SECRET_BYTES} bytes")
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be positive")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = timedelta(seconds=ttl_seconds)
        self._clock = clock or SystemClock()
        # Clients send the same token for up to 15 minutes; remembering tokens whose signature
        # and claims already verified saves a decode + HMAC per request (~8% of a read).
        # Only the time check is repeated, and revocation is checked elsewhere on every call.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue(self, user_id: str, session_id: str) -> str:
        now = self._clock.now()
        claims = {
            "sub": user_id,
            "sid": session_id,
            "iss": self._issuer,
            "aud": self._audience,
            "iat": int(now.timestamp()),
            "exp": int((now + self._ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def read(self, token: str, *, allow_expired: bool = False) -> AccessClaims:
        """Verify signature, issuer, audience and claims; `allow_expired` skips only `exp`."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        if not allow_expired and self._clock.now() >= claims.expires_at:
            raise _invalid()
        return claims

    def _decode(self, token: str) -> AccessClaims:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # Time-based checks are ours (below), made against the injected clock.
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise _invalid() from None
        user_id, session_id, expires = claims["sub"], claims["sid"], claims["exp"]
        if not (_non_empty_str(user_id) and _non_empty_str(session_id)):
            raise _invalid()
        if not isinstance(expires, int) or isinstance(expires, bool):
            raise _invalid()
        return AccessClaims(
            user_id=user_id,
            session_id=session_id,
            expires_at=datetime.fromtimestamp(expires, UTC),
        )


def _non_empty_str(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _invalid() -> Unauthenticated:
    return Unauthenticated("invalid or expired token")
