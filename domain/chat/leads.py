"""Pure lead rules: contact details spotted in free text, and the documented lead score."""

from __future__ import annotations

import re

# Deliberately conservative: a false lead is worse than a missed one.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
# An optional "+", then digits possibly split by spaces, dots, dashes or parentheses.
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-]{5,18}\d(?!\w)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}[./-]\d{2}[./-]\d{4}")
# With a country code ("+") 7 digits may be a number; without one, short digit runs are far
# more often order numbers or dates, so at least 9 are needed.
_MIN_INTERNATIONAL_DIGITS = 7
_MIN_LOCAL_DIGITS = 9
_MAX_PHONE_DIGITS = 15

SCORE_EMAIL = 30
SCORE_PHONE = 30
SCORE_NAME = 15
SCORE_INTENT = 25
MAX_SCORE = 100


def find_emails(text: str) -> list[str]:
    """Email-looking tokens in the order they appear (not yet normalized)."""
    return [match.group(0).rstrip(".") for match in _EMAIL.finditer(text)]


def find_phones(text: str) -> list[str]:
    """Phone-looking tokens, in order (not yet normalized): "+" and 7-15 digits, or 9-15
    digits without a country code; dates are not phones."""
    found: list[str] = []
    for match in _PHONE.finditer(text):
        token = match.group(0).strip()
        if _DATE.search(token):
            continue
        digits = sum(char.isdigit() for char in token)
        low = _MIN_INTERNATIONAL_DIGITS if token.startswith("+") else _MIN_LOCAL_DIGITS
        if low <= digits <= _MAX_PHONE_DIGITS:
            found.append(token)
    return found


def lead_score(*, has_email: bool, has_phone: bool, has_name: bool, has_intent: bool) -> int:
    """How promising a lead is, 0..100: what we know about the person and what they want.

    email 30 + phone 30 (a way to reach them is most of a lead's value), a name 15 (first
    or last), a matched intention 25 (they asked for something the agent handles); capped
    at 100.
    """
    score = (
        SCORE_EMAIL * has_email
        + SCORE_PHONE * has_phone
        + SCORE_NAME * has_name
        + SCORE_INTENT * has_intent
    )
    return min(MAX_SCORE, score)
