"""Contact normalization shared by leads and chat: one spelling per email address or phone."""

from __future__ import annotations

import re

EMAIL_MAX_LENGTH = 254
PHONE_MIN_DIGITS = 7
PHONE_MAX_DIGITS = 15  # E.164's maximum

# Deliberately loose: a lead's email is what a person typed in a chat, not an account login.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Separators people type between digits; anything else means it is not a phone number.
_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]")


def normalize_email(raw: str) -> str:
    """Trimmed and lower-cased, or "" when it cannot be an email address."""
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL_SHAPE.match(email):
        return ""
    return email


def normalize_phone(raw: str) -> str:
    """ "+<digits>" with 7-15 digits, or "" when it cannot be a phone number.

    A leading "00" is the international call prefix and means the same as "+". Without a
    country code the digits are kept as given: guessing a country would merge strangers.
    """
    compact = _PHONE_SEPARATORS.sub("", raw.strip())
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    else:
        digits = compact
    if not digits.isascii() or not digits.isdigit():
        return ""
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        return ""
    return f"+{digits}"
