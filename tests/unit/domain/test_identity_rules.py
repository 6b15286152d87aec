"""Pure identity rules: email normalisation, password policy, names."""

from __future__ import annotations

import pytest

from domain.errors import InvalidArgument
from domain.identity.rules import (
    check_password,
    clean_name,
    clean_timezone,
    default_name_for,
    normalize_email,
)
from domain.tenancy.models import default_tenant_name


def test_normalize_email_trims_and_lowercases() -> None:
    assert normalize_email("  Ann.Lee@Example.COM ") == "ann.lee@example.com"


@pytest.mark.parametrize("raw", ["", "   ", "ann", "ann@example", "a b@example.com", "a@@b.com"])
def test_normalize_email_refuses_what_cannot_be_an_address(raw: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        normalize_email(raw)
    assert caught.value.field == "email"


def test_password_of_8_to_128_characters_is_accepted() -> None:
    check_password("x" * 8, "ann@example.com")
    check_password("x" * 128, "ann@example.com")


@pytest.mark.parametrize("password", ["x" * 7, "x" * 129, "Ann@Example.com"])
def test_password_policy_refuses_short_long_and_email(password: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_password(password, "ann@example.com", field="new_password")
    assert caught.value.field == "new_password"


def test_clean_name_trims_and_bounds() -> None:
    assert clean_name("  Ann  ") == "Ann"
    for bad in ["", "   ", "x" * 101, "tab\there"]:
        with pytest.raises(InvalidArgument):
            clean_name(bad)


def test_new_accounts_are_named_after_the_email_local_part() -> None:
    assert default_name_for("ann.lee@example.com") == "ann.lee"
    assert default_tenant_name("ann.lee") == "ann.lee's team"


def test_timezone_accepts_iana_names_and_empty() -> None:
    assert clean_timezone(" Europe/Madrid ") == "Europe/Madrid"
    assert clean_timezone("") == ""


@pytest.mark.parametrize("bad", ["Mars/Olympus", "GMT+25", "Europe/Madrid\x00", "x" * 300])
def test_timezone_refuses_unknown_names(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="timezone"):
        clean_timezone(bad)


@pytest.mark.parametrize(
    "name", ["Acme\r\nBcc: x@evil.example", "Acme\nInc", "Acme\u2028Inc", "Acme\u0085Inc", "A\x7f"]
)
def test_names_refuse_line_breaks_and_controls(name: str) -> None:
    with pytest.raises(InvalidArgument, match="line breaks"):
        clean_name(name)


def test_names_keep_ordinary_text_even_when_it_looks_like_html() -> None:
    # Emails are plain text: markup is shown as typed, never rendered.
    assert clean_name("<a href='https://evil.example'>Acme</a>") == (
        "<a href='https://evil.example'>Acme</a>"
    )
