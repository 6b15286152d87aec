"""The HTTP API through `create_app()` on the run's PostgreSQL database, Redis and SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from adapters.sql.migrate import upgrade
from entrypoints.app import create_app
from entrypoints.settings import Settings, SmtpSettings
from tests.support.mailbox import Mailbox, running_mailbox

E2E_JWT_SECRET = "e2e-jwt-secret-that-is-long-enough-0123456789"


@pytest.fixture(scope="session")
async def migrated_database_url(database_url: str) -> str:
    await upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    with running_mailbox() as box:
        yield box


def e2e_settings_for(
    data_dir: Path, database_url: str, redis_url: str, redis_prefix: str, mailbox: Mailbox
) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        jwt_secret=E2E_JWT_SECRET,
        public_url="http://testserver.local",
        frontend_url="http://app.test",
        data_dir=data_dir,
        smtp=SmtpSettings(host=mailbox.host, port=mailbox.port, starttls=False),
        # Real argon2id, at a cost that keeps the suite quick.
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        # Every test client shares one address; per-email limits stay at their real values.
        code_sends_per_ip_per_hour=100_000,
        login_attempts_per_ip_per_minute=100_000,
    )


@pytest.fixture(scope="session")
def e2e_settings(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_database_url: str,
    redis_url: str,
    redis_prefix: str,
    mailbox: Mailbox,
) -> Settings:
    return e2e_settings_for(
        tmp_path_factory.mktemp("astra-data"),
        migrated_database_url,
        redis_url,
        redis_prefix,
        mailbox,
    )


@pytest.fixture(scope="session")
async def client(e2e_settings: Settings) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    async with AsyncTestClient(app=create_app(e2e_settings)) as test_client:
        yield test_client
