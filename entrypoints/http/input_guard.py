"""Pure-ASGI middleware: a NUL in the path or the query string is refused before routing.

PostgreSQL cannot store NUL in text, and ids, names and filters from the URL reach queries;
refusing `%00` here covers every operation's path and query parameters at once (bodies are
checked by `AstraRequest`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)

from domain.errors import ErrorCode
from entrypoints.http.requests import NUL_MESSAGE


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            where = _nul_in_url(scope)
            if where is not None:
                await _refuse(send, f"{where}: {NUL_MESSAGE}")
                return
        await self.app(scope, receive, send)


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query.lower() and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return None


async def _refuse(send: Send, message: str) -> None:
    body = msgspec.json.encode({"code": int(ErrorCode.INVALID_ARGUMENT), "message": message})
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 400,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
