"""Pure identity rules: email normalisation, password policy, display names."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from functools import cache

from domain.errors import InvalidArgument

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
NAME_MAX_LENGTH = 100
EMAIL_MAX_LENGTH = 254

# Deliberately simple: one "@", a dot in the domain, no spaces. Deliverability is proven by the
# emailed code, not by a regular expression.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(raw: str, field: str = "email") -> str:
    """Trim and lower-case an email address, refusing what cannot be one."""
    email = raw.strip().lower()
    if not email:
        raise InvalidArgument(field, "is required")
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL_SHAPE.match(email):
        raise InvalidArgument(field, "is not a valid email address")
    return email


def check_password(password: str, email: str, field: str = "password") -> None:
    """Enforce the password policy: 8-128 characters and not the account's email."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidArgument(field, f"must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise InvalidArgument(field, f"must be at most {PASSWORD_MAX_LENGTH} characters")
    if password.strip().lower() == email.strip().lower():
        raise InvalidArgument(field, "must not be the email address")


# Cc: C0/C1 controls (CR, LF, NEL, DEL …); Zl/Zp: the line and paragraph separators.
_REFUSED_IN_NAMES = frozenset({"Cc", "Zl", "Zp"})


def clean_name(raw: str, field: str = "name") -> str:
    """A display name: trimmed, 1-100 characters, no control characters or line breaks.

    Names travel into email subjects and bodies: a line separator (CR, LF, U+2028/9, NEL)
    could fake a header or a paragraph, so every control and separator character is refused.
    """
    name = raw.strip()
    if not name:
        raise InvalidArgument(field, "is required")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidArgument(field, f"must be at most {NAME_MAX_LENGTH} characters")
    if any(unicodedata.category(ch) in _REFUSED_IN_NAMES for ch in name):
        raise InvalidArgument(field, "must not contain control characters or line breaks")
    return name


def default_name_for(email: str) -> str:
    """The display name a new account starts with: the email's local part."""
    return email.split("@", 1)[0][:NAME_MAX_LENGTH]


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_timezone(raw: str, field: str = "timezone") -> str:
    """An IANA time zone name such as `Europe/Madrid`; empty means "not set"."""
    timezone = raw.strip()
    if timezone and timezone not in _known_timezones():
        raise InvalidArgument(field, "must be an IANA time zone name such as Europe/Madrid")
    return timezone
