"""`astra serve`, `db upgrade` and `worker` refuse to start with one line, not a traceback,
when the database or Redis cannot be used."""

from __future__ import annotations

import secrets

import pytest

from bench.infra import free_port
from entrypoints.cli import main

DEAD_POSTGRES = "postgresql+asyncpg://postgres:hunter2-secret@127.0.0.1:{port}/astra"


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str, **env: str
) -> tuple[int, str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(list(argv))
    err = capsys.readouterr().err
    # The process's JSON log lines (other libraries may log meanwhile) are not the answer:
    # the answer is the one `astra:` line, and no traceback anywhere.
    assert "Traceback" not in err
    said = [line for line in err.splitlines() if line.startswith("astra:")]
    assert len(said) == 1, err
    return code, said[0]


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "mysql+aiomysql"])
def test_a_database_url_without_a_supported_driver_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    url = f"{scheme}://postgres:hunter2-secret@db/astra"
    code, err = run(monkeypatch, capsys, "db", "upgrade", ASTRA_DATABASE_URL=url)
    assert code == 2
    assert "postgresql+asyncpg://" in err
    assert f"{scheme.split('+')[0]}" in err
    assert "hunter2" not in err


def test_an_unreachable_database_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    url = DEAD_POSTGRES.format(port=port)
    code, err = run(monkeypatch, capsys, "db", "upgrade", ASTRA_DATABASE_URL=url)
    assert code == 1
    assert f"127.0.0.1:{port}/astra" in err
    assert "ASTRA_DATABASE_URL" in err
    assert "hunter2" not in err


@pytest.mark.integration
def test_a_missing_database_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    missing = database_url.rsplit("/", 1)[0] + f"/astra_missing_{secrets.token_hex(4)}"
    code, err = run(monkeypatch, capsys, "db", "upgrade", ASTRA_DATABASE_URL=missing)
    assert code == 1
    assert "does not exist" in err


def test_an_unreachable_redis_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    port = free_port()
    code, err = run(
        monkeypatch,
        capsys,
        "worker",
        ASTRA_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/astra.db",
        ASTRA_REDIS_URL=f"redis://:redis-secret@127.0.0.1:{port}/0",
    )
    assert code == 1
    assert f"ASTRA_REDIS_URL: cannot reach the Redis at 127.0.0.1:{port}" in err
    assert "redis-secret" not in err
