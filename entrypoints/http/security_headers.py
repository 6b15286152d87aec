"""Pure-ASGI middleware: the response headers every answer needs, whatever produced it.

- `X-Content-Type-Options: nosniff` everywhere: a browser never reinterprets a body (an
  uploaded avatar, an error) as HTML or script.
- `Cache-Control: no-store` on answers to requests that carry credentials, unless the handler
  chose a policy: account data must not stay in shared or browser caches.
- `Strict-Transport-Security` in production, where the API is served over HTTPS only.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=31536000; includeSubDomains"
_CREDENTIAL_HEADERS = frozenset({b"authorization", b"cookie"})


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self._hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        credentialed = any(name in _CREDENTIAL_HEADERS for name, _ in scope.get("headers", ()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"x-content-type-options", b"nosniff"))
                if credentialed and not any(
                    name.lower() == b"cache-control" for name, _ in headers
                ):
                    headers.append((b"cache-control", b"no-store"))
                if self._hsts:
                    headers.append((b"strict-transport-security", HSTS))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
