"""A real OpenID Connect provider on loopback (oidc-provider-mock), and a "person" at it.

The mock issues RS256 id_tokens from its own key, honours PKCE and (with `--require-nonce`)
insists on a nonce. It has no login page to script: POSTing the authorization URL with the
form field `sub` is the person signing in, and its answer is the 302 back to the client.
Claims are set with `PUT /users/<sub>`. One host spelling (127.0.0.1) everywhere: the
issuer follows the Host header.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from bench.infra import Server, clean_environment, free_port, running_server

READY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True, slots=True)
class OidcProvider:
    issuer: str
    server: Server

    async def set_user(self, sub: str, **claims: Any) -> None:
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.put(f"{self.issuer}/users/{sub}", json=claims)
            assert response.status_code == 204, response.text

    async def consent(self, authorization_url: str, sub: str) -> str:
        """Sign `sub` in at the provider; the URL it sends the browser back to."""
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.post(authorization_url, data={"sub": sub})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def id_token_for(self, client_id: str, sub: str, nonce: str) -> str:
        """An id_token the provider signs for another client (`aud` = `client_id`)."""
        redirect_uri = "http://127.0.0.1/elsewhere"
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid email",
                "state": "s",
                "nonce": nonce,
            }
        )
        back = await self.consent(f"{self.issuer}/oauth2/authorize?{query}", sub)
        code = dict(parse_qsl(urlsplit(back).query))["code"]
        async with httpx.AsyncClient(timeout=10.0) as http:
            tokens = await http.post(
                f"{self.issuer}/oauth2/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "client_id": client_id,
                    "client_secret": "any",
                },
            )
        assert tokens.status_code == 200, tokens.text
        return str(tokens.json()["id_token"])


@asynccontextmanager
async def running_oidc_provider(port: int | None = None) -> AsyncIterator[OidcProvider]:
    port = port or free_port()
    argv = [
        str(Path(sys.executable).with_name("oidc-provider-mock")),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--require-nonce",
        "true",
    ]
    with tempfile.TemporaryDirectory(prefix="oidc-") as tmp:
        async with running_server(
            "oidc-provider-mock", argv, port, clean_environment({}), Path(tmp), READY_PATH
        ) as server:
            yield OidcProvider(f"http://127.0.0.1:{port}", server)


def with_query(url: str, change: Callable[[dict[str, str]], None]) -> str:
    """`url` with its query parameters edited by `change` (a tampering browser)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    change(query)
    return urlunsplit(parts._replace(query=urlencode(query)))


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
