"""The chat settings read from ASTRA_CHAT_* (README settings table)."""

from __future__ import annotations

import pytest

from entrypoints.settings import SettingsError, load_settings


def test_chat_settings_have_documented_defaults() -> None:
    settings = load_settings({})
    assert (
        settings.chat_concurrency_per_user,
        settings.chat_rate_per_tenant_per_minute,
        settings.chat_history_messages,
        settings.chat_ping_seconds,
    ) == (1, 600, 20, 10.0)


def test_chat_settings_are_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "ASTRA_CHAT_CONCURRENCY_PER_USER": "3",
            "ASTRA_CHAT_RATE_PER_TENANT_PER_MINUTE": "50",
            "ASTRA_CHAT_HISTORY_MESSAGES": "0",
        }
    )
    assert settings.chat_concurrency_per_user == 3
    assert settings.chat_rate_per_tenant_per_minute == 50
    assert settings.chat_history_messages == 0


@pytest.mark.parametrize(
    "name", ["ASTRA_CHAT_CONCURRENCY_PER_USER", "ASTRA_CHAT_RATE_PER_TENANT_PER_MINUTE"]
)
def test_limits_below_one_are_refused(name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: "0"})
