"""Pure-ASGI middleware: every response carries `X-Request-ID` (echoed or generated), and
every request leaves one access line in the log (`astra.access`)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.logs import current_request_id
from entrypoints.metrics import observe_request
from entrypoints.telemetry import current_trace_id, current_traceparent, tag_current_span

access_log = logging.getLogger("astra.access")
# A handler that knows the tenant a request acts on records it here (see `note_tenant`).
TENANT_STATE_KEY = "tenant_id"
# When the request arrived (`time.perf_counter()`), for time-to-first-event.
STARTED_STATE_KEY = "started_at"

# Client-supplied ids are echoed only when they are short and plain, so logs stay clean.
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")


def _request_id_from(scope: Scope) -> bytes:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _SAFE_ID.match(value):
            return bytes(value)
    return uuid.uuid4().hex.encode()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        token = current_request_id.set(request_id.decode())
        tag_current_span({"http.request_id": request_id.decode()})
        traceparent = current_traceparent()

        started = time.perf_counter()
        scope["state"][STARTED_STATE_KEY] = started
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", request_id))
                if traceparent is not None:
                    headers.append((b"traceparent", traceparent))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _log_access(scope, status, time.perf_counter() - started, self.access_log)
            current_request_id.reset(token)


def note_tenant(scope: Scope, tenant_id: str) -> None:
    """Name the tenant the request acts on in its access line (never a user's data)."""
    if tenant_id:
        scope.setdefault("state", {})[TENANT_STATE_KEY] = tenant_id


def _log_access(scope: Scope, status: int, seconds: float, log: bool) -> None:
    """One line per request, after its last byte (a stream's end, for chat), and its
    duration metric. The route is the template (`/…/agents/{agent_id}`), never the path:
    no ids or tokens from the URL.
    The ids are in the record itself too, so a handler that formats later (a queue, a
    test's capture) still has them."""
    route = str(scope.get("path_template") or "(unmatched)")
    method = str(scope.get("method", ""))
    observe_request(method, route, status, seconds)
    if not log or not access_log.isEnabledFor(logging.INFO):
        return
    path_params = scope.get("path_params") or {}
    tenant_id = scope.get("state", {}).get(TENANT_STATE_KEY) or path_params.get("tenant_id", "")
    access_log.info(
        "request",
        extra={
            "method": method,
            "route": route,
            # 0: the client left before any answer began.
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "tenant_id": str(tenant_id),
            "request_id": scope.get("state", {}).get("request_id", ""),
            "trace_id": current_trace_id(),
        },
    )
