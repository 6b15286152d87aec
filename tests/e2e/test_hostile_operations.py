"""Every operation of the OpenAPI document, fed what no operation can take: a NUL in each
path and query parameter and in body strings, JSON nested too deeply, bytes that are not
UTF-8. Nothing may answer 5xx; a NUL in the URL is `3` before anything else runs. And
nothing a client sent appears in the logs: every body string also goes in plain, carrying a
marker that no log line (message or traceback) may contain.

Generated from `/schema`, so a new operation is covered the day it is added. Runs on
PostgreSQL, which cannot store NUL in text.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.e2e.flows import bearer, sign_up
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.e2e

Client = AsyncTestClient[Any]
JSON = {"content-type": "application/json"}
DEEP = b"[" * 2000 + b"]" * 2000
NOT_UTF8 = b'{"name": "\xff\xfe"}'
MARKER = "client-text-7f3a9c"
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")
# Operations that would end the test's own session if a request got through to them.
SESSION_ENDING = {"Logout", "UserDelete"}


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), path, operation))
    return found


def concrete(path: str, value: str) -> str:
    return _PARAM.sub(value, path)


def body_strings(operation: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Top-level string properties of the operation's JSON body, if it has one."""
    content = operation.get("requestBody", {}).get("content", {})
    body = content.get("application/json", {}).get("schema")
    if not body:
        return []
    ref = body.get("$ref", "")
    if ref:
        body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return [
        name for name, prop in body.get("properties", {}).items() if prop.get("type") == "string"
    ]


async def test_no_operation_answers_5xx_to_hostile_input(
    client: Client, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, token = await sign_up(client, mailbox)
    auth = bearer(token)
    schema = (await client.get("/schema/openapi.json")).json()
    ops = operations(schema)
    assert len(ops) > 40, "the document lists every operation"
    failures: list[str] = []

    async def send(method: str, url: str, **kwargs: Any) -> int:
        response = await client.request(
            method, url, headers={**auth, **kwargs.pop("headers", {})}, **kwargs
        )
        if response.status_code >= 500:
            failures.append(f"{method} {url} -> {response.status_code} {response.text[:120]}")
        return response.status_code

    for method, path, operation in ops:
        if _PARAM.search(path):
            status = await send(method, concrete(path, "x%00y"))
            if status != 400:
                failures.append(f"{method} {path}: a NUL path parameter got {status}")
        for param in operation.get("parameters", []):
            if param.get("in") == "query":
                status = await send(method, concrete(path, "x"), params={param["name"]: "a\x00"})
                if status != 400:
                    failures.append(f"{method} {path}?{param['name']}: NUL got {status}")
        if operation.get("operationId") in SESSION_ENDING:
            continue
        if method in {"POST", "PUT", "PATCH"}:
            url = concrete(path, "x")
            for name in body_strings(operation, schema):
                await send(method, url, json={name: f"{MARKER}\x00"})
                await send(method, url, json={name: f"{MARKER}@example.com"})
            await send(method, url, content=DEEP, headers=JSON)
            await send(method, url, content=NOT_UTF8, headers=JSON)
    # Still signed in: every body above was refused without running its operation.
    assert (await client.get("/account/v1/user", headers=auth)).status_code == 200
    assert not failures, "\n".join(failures)
    formatter = logging.Formatter()
    leaked = [
        record.getMessage()
        for record in caplog.records
        if MARKER in record.getMessage()
        or (record.exc_info and MARKER in formatter.formatException(record.exc_info))
    ]
    assert not leaked, leaked
