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


def test_turn_bounds_and_recovery_have_documented_defaults_and_are_read() -> None:
    defaults = load_settings({})
    assert (
        defaults.chat_max_turn_seconds,
        defaults.chat_turn_margin_seconds,
        defaults.chat_slot_lease_seconds,
        defaults.recovery_interval_seconds,
    ) == (300, 30, 20, 15.0)
    configured = load_settings(
        {
            "ASTRA_CHAT_MAX_TURN_SECONDS": "5",
            "ASTRA_CHAT_TURN_MARGIN_SECONDS": "12",
            "ASTRA_CHAT_SLOT_LEASE_SECONDS": "4",
            "ASTRA_RECOVERY_INTERVAL_SECONDS": "0.5",
        }
    )
    assert (
        configured.chat_max_turn_seconds,
        configured.chat_turn_margin_seconds,
        configured.chat_slot_lease_seconds,
        configured.recovery_interval_seconds,
    ) == (5, 12, 4, 0.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ASTRA_CHAT_MAX_TURN_SECONDS", "0"),
        ("ASTRA_CHAT_TURN_MARGIN_SECONDS", "9"),  # shorter than the end-of-turn retries
        ("ASTRA_CHAT_SLOT_LEASE_SECONDS", "1"),
        ("ASTRA_RECOVERY_INTERVAL_SECONDS", "0"),
    ],
)
def test_turn_bounds_too_small_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})
