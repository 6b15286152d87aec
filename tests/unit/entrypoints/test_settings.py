"""Settings come from ASTRA_* variables; production refuses unsafe defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.cli import main
from entrypoints.settings import (
    SettingsError,
    describe_settings,
    load_settings,
    resolve_encryption_keys,
    resolve_jwt_secret,
)

STRONG = "s" * 40


def test_empty_environment_gives_the_embedded_defaults() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite+aiosqlite:///./astra.db"
    assert settings.redis_url == ""
    assert settings.payments == "local"
    assert settings.llm.backend == "local"
    assert settings.trial_days == 14
    assert settings.credits_per_message == 1
    assert settings.effective_frontend_url == "http://127.0.0.1:8000"


def test_variables_are_read_and_typed() -> None:
    settings = load_settings(
        {
            "ASTRA_DATABASE_URL": "postgresql+asyncpg://u@db/astra",
            "ASTRA_REDIS_URL": "redis://cache:6379/0",
            "ASTRA_INTERNAL_API_KEYS": f" {STRONG} ,{STRONG}x ,",
            "ASTRA_SMTP_PORT": "2525",
            "ASTRA_SMTP_STARTTLS": "false",
            "ASTRA_TRIAL_DAYS": "30",
            "ASTRA_FRONTEND_URL": "https://app.example.com/",
            "ASTRA_REDIS_MAX_CONNECTIONS": "64",
            "ASTRA_REDIS_POOL_TIMEOUT_SECONDS": "0.5",
            "ASTRA_SHUTDOWN_GRACE_SECONDS": "12.5",
        }
    )
    assert settings.shutdown_grace_seconds == 12.5
    assert settings.redis_max_connections == 64
    assert settings.redis_pool_timeout_seconds == 0.5
    assert settings.internal_api_keys == (STRONG, STRONG + "x")
    assert settings.smtp.port == 2525
    assert settings.smtp.starttls is False
    assert settings.trial_days == 30
    assert settings.effective_frontend_url == "https://app.example.com"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ASTRA_TRIAL_DAYS": "soon"}, "ASTRA_TRIAL_DAYS"),
        ({"ASTRA_ENV": "staging"}, "ASTRA_ENV"),
        ({"ASTRA_JWT_SECRET": "short"}, "ASTRA_JWT_SECRET"),
        ({"ASTRA_INTERNAL_API_KEYS": "tiny"}, "ASTRA_INTERNAL_API_KEYS"),
        ({"ASTRA_REDIS_URL": "http://x"}, "ASTRA_REDIS_URL"),
        ({"ASTRA_LLM_BACKEND": "gpt"}, "ASTRA_LLM_BACKEND"),
        ({"ASTRA_REDIS_MAX_CONNECTIONS": "0"}, "ASTRA_REDIS_MAX_CONNECTIONS"),
        ({"ASTRA_REDIS_POOL_TIMEOUT_SECONDS": "-1"}, "ASTRA_REDIS_POOL_TIMEOUT_SECONDS"),
        ({"ASTRA_SHUTDOWN_GRACE_SECONDS": "soon"}, "ASTRA_SHUTDOWN_GRACE_SECONDS"),
        ({"ASTRA_ENCRYPTION_KEYS": "short"}, "ASTRA_ENCRYPTION_KEYS"),
        ({"ASTRA_OAUTH_GOOGLE_CLIENT_ID": "id"}, "ASTRA_OAUTH_GOOGLE_CLIENT_SECRET"),
        (
            {"ASTRA_OAUTH_WATI_CLIENT_ID": "id", "ASTRA_OAUTH_WATI_CLIENT_SECRET": "s"},
            "ASTRA_OAUTH_WATI_ISSUER",
        ),
        ({"ASTRA_OAUTH_WATI_ISSUER": "ftp://wati"}, "ASTRA_OAUTH_WATI_ISSUER"),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        load_settings(env)


def test_production_refuses_default_secrets_and_embedded_backends() -> None:
    production = {
        "ASTRA_ENV": "production",
        "ASTRA_DATABASE_URL": "postgresql+asyncpg://u@db/astra",
        "ASTRA_REDIS_URL": "redis://cache:6379/0",
    }
    with pytest.raises(SettingsError, match="ASTRA_JWT_SECRET"):
        load_settings(production)
    with pytest.raises(SettingsError, match="PostgreSQL"):
        load_settings({**production, "ASTRA_JWT_SECRET": STRONG, "ASTRA_DATABASE_URL": ""})
    with pytest.raises(SettingsError, match="ASTRA_REDIS_URL"):
        load_settings({**production, "ASTRA_JWT_SECRET": STRONG, "ASTRA_REDIS_URL": ""})
    with pytest.raises(SettingsError, match="ASTRA_ENCRYPTION_KEYS"):
        load_settings({**production, "ASTRA_JWT_SECRET": STRONG})
    keyed = {**production, "ASTRA_JWT_SECRET": STRONG, "ASTRA_ENCRYPTION_KEYS": STRONG}
    assert load_settings(keyed).is_production


def test_oauth_clients_are_read_per_provider() -> None:
    settings = load_settings(
        {
            "ASTRA_OAUTH_GOOGLE_CLIENT_ID": "g-id",
            "ASTRA_OAUTH_GOOGLE_CLIENT_SECRET": "g-secret",
            "ASTRA_OAUTH_WATI_ISSUER": "https://login.wati.io/",
            "ASTRA_ENCRYPTION_KEYS": f"{STRONG}1, {STRONG}2",
        }
    )
    google, wati = settings.oauth["google"], settings.oauth["wati"]
    assert (google.issuer, google.configured) == ("https://accounts.google.com", True)
    assert (wati.issuer, wati.configured) == ("https://login.wati.io", False)
    assert settings.encryption_keys == (f"{STRONG}1", f"{STRONG}2")
    assert "g-secret" not in repr(settings)


def test_development_secret_is_generated_once_per_data_directory(tmp_path: Path) -> None:
    settings = load_settings({"ASTRA_DATA_DIR": str(tmp_path)})
    first = resolve_jwt_secret(settings)
    assert len(first) >= 32
    assert resolve_jwt_secret(settings) == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0
    keys = resolve_encryption_keys(settings)
    assert resolve_encryption_keys(settings) == keys
    assert len(keys) == 1
    assert keys[0] != first


def test_astra_config_masks_every_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "ASTRA_DATABASE_URL": "postgresql+asyncpg://astra:db-password-1@db:5432/astra",
        "ASTRA_REDIS_URL": "redis://:redis-password-2@cache:6379/0",
        "ASTRA_JWT_SECRET": STRONG,
        "ASTRA_ENCRYPTION_KEYS": f"{STRONG}-sealing",
        "ASTRA_STRIPE_API_KEY": "sk_test_stripe-secret-3",
        "ASTRA_SMTP_PASSWORD": "smtp-password-4",
        "ASTRA_OAUTH_GOOGLE_CLIENT_ID": "google-id",
        "ASTRA_OAUTH_GOOGLE_CLIENT_SECRET": "google-secret-5",
        "ASTRA_TRIAL_DAYS": "21",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    shown = dict(line.split(" = ", 1) for line in text.splitlines())
    assert list(shown.items()) == describe_settings(load_settings())
    for secret in (
        STRONG,
        "db-password-1",
        "redis-password-2",
        "stripe-secret-3",
        "smtp-password-4",
        "google-secret-5",
    ):
        assert secret not in text, secret
    assert shown["database_url"] == "postgresql+asyncpg://astra:******@db:5432/astra"
    assert shown["redis_url"] == "redis://:******@cache:6379/0"
    assert (shown["jwt_secret"], shown["stripe.api_key"], shown["smtp.password"]) == ("******",) * 3
    assert shown["oauth.google.client_id"] == "google-id"
    assert shown["trial_days"] == "21"
    assert shown["stripe.webhook_secret"] == ""  # unset secrets show as empty, not masked
