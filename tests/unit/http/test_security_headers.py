"""Security headers on every answer (issue: nosniff, no-store with credentials, HSTS)."""

from __future__ import annotations

import pytest
from litestar import Litestar, get
from litestar.response import Response
from litestar.testing import AsyncTestClient

from entrypoints.http.security_headers import HSTS, SecurityHeadersMiddleware


@get("/plain", sync_to_thread=False)
def plain() -> dict[str, str]:
    return {"ok": "yes"}


@get("/cached", sync_to_thread=False)
def cached() -> Response[dict[str, str]]:
    return Response({"ok": "yes"}, headers={"Cache-Control": "public, max-age=60"})


def client_for(*, hsts: bool) -> AsyncTestClient[Litestar]:
    app = Litestar([plain, cached])
    app.asgi_handler = SecurityHeadersMiddleware(app.asgi_handler, hsts=hsts)
    return AsyncTestClient(app)


async def test_every_answer_forbids_sniffing_even_an_unknown_route() -> None:
    async with client_for(hsts=False) as client:
        for path in ("/plain", "/nowhere"):
            response = await client.get(path)
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "strict-transport-security" not in response.headers
            assert "cache-control" not in response.headers


@pytest.mark.parametrize("credential", [{"Authorization": "Bearer x"}, {"Cookie": "a=b"}])
async def test_answers_to_credentialed_requests_are_not_stored(
    credential: dict[str, str],
) -> None:
    async with client_for(hsts=False) as client:
        response = await client.get("/plain", headers=credential)
        assert response.headers["cache-control"] == "no-store"
        # A handler's own policy stands.
        chosen = await client.get("/cached", headers=credential)
        assert chosen.headers["cache-control"] == "public, max-age=60"


async def test_production_sends_hsts() -> None:
    async with client_for(hsts=True) as client:
        response = await client.get("/plain")
        assert response.headers["strict-transport-security"] == HSTS.decode()
