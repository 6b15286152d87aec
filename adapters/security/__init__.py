"""Clocks, ids, random secrets, hashing and access tokens."""

from adapters.security.clock import SystemClock
from adapters.security.ids import UuidGenerator
from adapters.security.passwords import Argon2PasswordHasher
from adapters.security.secrets import HmacSecretHasher, OsSecretGenerator, Sha256TokenHasher
from adapters.security.tokens import JwtTokenIssuer

__all__ = [
    "Argon2PasswordHasher",
    "HmacSecretHasher",
    "JwtTokenIssuer",
    "OsSecretGenerator",
    "Sha256TokenHasher",
    "SystemClock",
    "UuidGenerator",
]
