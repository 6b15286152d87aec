"""Astra as production runs it: `astra serve` on PostgreSQL + Redis, plus sign-up by API."""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from adapters.sql.migrate import upgrade
from bench.infra import (
    REDIS_URL,
    Server,
    clean_environment,
    free_port,
    redis_prefix,
    running_server,
    throwaway_database,
)
from tests.support.mailbox import Mailbox, running_mailbox

BENCH_PASSWORD = "bench-password-1234"


@dataclass(frozen=True, slots=True)
class AstraDeployment:
    server: Server
    mailbox: Mailbox
    database_url: str = ""
    redis_prefix: str = ""

    @property
    def base_url(self) -> str:
        return self.server.base_url


def astra_command() -> list[str]:
    """The installed `astra` console script of this environment (`python -m` as a fallback)."""
    script = Path(sys.executable).with_name("astra")
    return [str(script)] if script.exists() else [sys.executable, "-m", "entrypoints.cli"]


@asynccontextmanager
async def astra_deployment(
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[AstraDeployment]:
    """A migrated throwaway database, a fresh Redis prefix, an SMTP sink and one worker;
    `extra_env` adds or overrides settings (e.g. the LLM backend)."""
    async with throwaway_database() as database_url, redis_prefix() as prefix:
        await upgrade(database_url)
        with (
            running_mailbox() as mailbox,
            tempfile.TemporaryDirectory(prefix="astra-bench-") as tmp,
        ):
            port = free_port()
            env = clean_environment(
                {
                    "ASTRA_ENV": "development",
                    "ASTRA_DATABASE_URL": database_url,
                    "ASTRA_REDIS_URL": REDIS_URL,
                    "ASTRA_REDIS_PREFIX": prefix,
                    "ASTRA_JWT_SECRET": secrets.token_urlsafe(48),
                    "ASTRA_SMTP_HOST": mailbox.host,
                    "ASTRA_SMTP_PORT": str(mailbox.port),
                    "ASTRA_SMTP_STARTTLS": "false",
                    "ASTRA_DATA_DIR": str(Path(tmp) / "data"),
                    "ASTRA_PUBLIC_URL": f"http://127.0.0.1:{port}",
                    **(extra_env or {}),
                }
            )
            argv = [*astra_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--workers", "1"]
            async with running_server("astra", argv, port, env, Path(tmp), "/healthz") as server:
                yield AstraDeployment(server, mailbox, database_url, prefix)


def json_ok(response: httpx.Response) -> dict[str, object]:
    if response.status_code != 200:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    body = response.json()
    assert isinstance(body, dict)
    return body


async def sign_up(deployment: AstraDeployment, password: str = BENCH_PASSWORD) -> tuple[str, str]:
    """Register a new user through the API (code read from the email); return (email, token)."""
    email = f"bench-{secrets.token_hex(6)}@example.com"
    async with httpx.AsyncClient(base_url=deployment.base_url, timeout=30.0) as client:
        started = json_ok(await client.post("/account/v1/auth/register", json={"email": email}))
        code = await deployment.mailbox.code_for(email)
        verified = json_ok(
            await client.post(
                "/account/v1/auth/register/verify",
                json={"email": email, "code": code, "token": started["token"]},
            )
        )
        json_ok(
            await client.post(
                "/account/v1/user/initial",
                json={"password": password, "timezone": "UTC"},
                headers={"Authorization": f"Bearer {verified['token']}"},
            )
        )
        token = await login(client, email, password)
    return email, token


async def login(client: httpx.AsyncClient, email: str, password: str) -> str:
    body = json_ok(
        await client.post("/account/v1/auth/login", json={"email": email, "password": password})
    )
    return str(body["token"])
