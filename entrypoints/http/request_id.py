"""Pure-ASGI middleware: every response carries `X-Request-ID` (echoed or generated)."""

from __future__ import annotations

import re
import uuid

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.logs import current_request_id
from entrypoints.telemetry import current_traceparent, tag_current_span

# Client-supplied ids are echoed only when they are short and plain, so logs stay clean.
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def _request_id_from(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _SAFE_ID.match(value):
            return bytes(value)
    return uuid.uuid4().hex.encode()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        token = current_request_id.set(request_id.decode())
        tag_current_span({"http.request_id": request_id.decode()})
        traceparent = current_traceparent()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id))
                if traceparent is not None:
                    headers.append((b"traceparent", traceparent))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
