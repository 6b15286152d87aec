"""Secrets Astra must give back (a provider's long-lived token), sealed at rest with Fernet
(AES-128-CBC + HMAC-SHA256, from `cryptography`).

Operators configure passphrases (≥ 32 characters, newest first); each becomes a Fernet key
through SHA-256, so any strong string works. `MultiFernet` seals with the first key and
opens with any of them: a key is rotated by putting a new one in front, then dropped once
nothing sealed under it is left.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from application.common.ports import SecretBox
from domain.errors import Unavailable


def _fernet(passphrase: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()))


class FernetSecretBox(SecretBox):
    def __init__(self, passphrases: Sequence[str]) -> None:
        if not passphrases:
            raise ValueError("a secret box needs at least one key")
        self._keys = MultiFernet([_fernet(passphrase) for passphrase in passphrases])

    def seal(self, plain: str) -> str:
        return self._keys.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._keys.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            # The key that sealed it was dropped from ASTRA_ENCRYPTION_KEYS: an operator
            # error to mend, not the caller's fault.
            raise Unavailable("a stored secret cannot be opened with the configured keys") from None
