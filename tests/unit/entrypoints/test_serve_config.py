"""How `astra serve` configures uvicorn: forwarded headers, workers without Redis."""

from __future__ import annotations

import argparse

import pytest

from entrypoints.cli import build_parser, main, uvicorn_config
from entrypoints.settings import Settings, SettingsError, load_settings


def serve_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *extra])


def test_forwarded_headers_are_ignored_by_default() -> None:
    config = uvicorn_config(serve_args(), Settings())
    assert config.proxy_headers is False


def test_forwarded_headers_are_believed_only_from_the_trusted_proxies() -> None:
    settings = load_settings({"ASTRA_TRUSTED_PROXIES": "10.0.0.7, 10.1.0.0/16"})
    config = uvicorn_config(serve_args(), settings)
    assert config.proxy_headers is True
    assert config.forwarded_allow_ips == "10.0.0.7,10.1.0.0/16"


def test_a_trusted_proxy_must_be_an_address() -> None:
    with pytest.raises(SettingsError, match="ASTRA_TRUSTED_PROXIES"):
        load_settings({"ASTRA_TRUSTED_PROXIES": "lb.internal"})


def test_several_workers_without_redis_are_refused() -> None:
    with pytest.raises(SettingsError, match="ASTRA_REDIS_URL"):
        uvicorn_config(serve_args("--workers", "2"), Settings())
    settings = Settings(redis_url="redis://127.0.0.1:6379/0")
    assert uvicorn_config(serve_args("--workers", "2"), settings).workers == 2


def test_the_command_says_why_it_will_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ASTRA_REDIS_URL", raising=False)
    assert main(["serve", "--workers", "2"]) == 2
    assert "--workers > 1 needs ASTRA_REDIS_URL" in capsys.readouterr().err
