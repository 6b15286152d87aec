"""The OpenID Connect client against a real provider (oidc-provider-mock on loopback): what it
fetches and caches, and which id_tokens it refuses."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.security.oidc import OidcClient
from bench.infra import free_port
from domain.errors import Unauthenticated, Unavailable
from tests.support.oidc import OidcProvider, query_of, running_oidc_provider

REDIRECT_URI = "http://127.0.0.1/callback"


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[OidcProvider]:
    async with running_oidc_provider() as running:
        yield running


class CountingClient:
    """An httpx client that counts the requests per path it sends."""

    def __init__(self) -> None:
        self.paths: Counter[str] = Counter()
        self.http = httpx.AsyncClient(timeout=10.0, event_hooks={"request": [self._count]})

    async def _count(self, request: httpx.Request) -> None:
        self.paths[request.url.path] += 1


async def redeem_as(client: OidcClient, provider: OidcProvider, sub: str) -> dict[str, object]:
    url = await client.authorization_url(REDIRECT_URI, "state-1", "nonce-1", "v" * 43)
    back = await provider.consent(url, sub)
    grant = await client.redeem(query_of(back)["code"], REDIRECT_URI, "v" * 43, "nonce-1")
    return grant.claims


async def test_discovery_and_keys_are_fetched_once(provider: OidcProvider) -> None:
    counting = CountingClient()
    client = OidcClient("google", "astra", "secret", provider.issuer, counting.http)
    await provider.set_user("cached", email="cached@example.com", email_verified=True)
    try:
        for _ in range(3):
            claims = await redeem_as(client, provider, "cached")
            assert claims["sub"] == "cached"
    finally:
        await client.aclose()
    assert counting.paths["/.well-known/openid-configuration"] == 1
    assert counting.paths["/jwks"] == 1
    assert counting.paths["/oauth2/token"] == 3


async def test_the_authorization_request_carries_pkce_s256(provider: OidcProvider) -> None:
    """RFC 7636 §4.2, computed here independently. (oidc-provider-mock 0.3.4 does not
    check the verifier at the token endpoint, so that half is the provider's to enforce.)"""
    client = OidcClient("google", "astra", "secret", provider.issuer)
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
    try:
        url = await client.authorization_url(REDIRECT_URI, "s", "n", verifier)
    finally:
        await client.aclose()
    query = query_of(url)
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert (query["state"], query["nonce"], query["client_id"]) == ("s", "n", "astra")
    assert query["scope"] == "openid email profile"


async def test_an_id_token_for_another_audience_is_refused(provider: OidcProvider) -> None:
    client = OidcClient("google", "astra", "secret", provider.issuer)
    try:
        theirs = await provider.id_token_for("someone-else", "victim", "n-1")
        with pytest.raises(Unauthenticated, match="aud"):
            await client.verify_id_token(theirs, "n-1")
        ours = await provider.id_token_for("astra", "victim", "n-2")
        assert (await client.verify_id_token(ours, "n-2"))["aud"] == ["astra"]
        with pytest.raises(Unauthenticated, match="nonce"):
            await client.verify_id_token(ours, "another-nonce")
        header, payload, signature = ours.split(".")
        tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
        with pytest.raises(Unauthenticated):
            await client.verify_id_token(tampered, "n-2")
        for garbage in ("", "not-a-jwt", "a.b.c"):
            with pytest.raises(Unauthenticated):
                await client.verify_id_token(garbage, "n-2")
    finally:
        await client.aclose()


async def test_an_issuer_that_names_another_issuer_is_refused(provider: OidcProvider) -> None:
    # "localhost" reaches the same server, whose discovery then names http://localhost:P.
    spelled_otherwise = provider.issuer.replace("127.0.0.1", "localhost")
    client = OidcClient("google", "astra", "secret", f"{spelled_otherwise}/")
    try:
        url = await client.authorization_url(REDIRECT_URI, "s", "n", "v" * 43)
        assert url.startswith(spelled_otherwise)  # the same spelling round-trips
    finally:
        await client.aclose()
    client = OidcClient("google", "astra", "secret", provider.issuer)
    try:
        localhost_token = await OidcProvider(spelled_otherwise, provider.server).id_token_for(
            "astra", "x", "n"
        )
        with pytest.raises(Unauthenticated, match="iss"):
            await client.verify_id_token(localhost_token, "n")
    finally:
        await client.aclose()


async def test_rotated_keys_are_fetched_again() -> None:
    """A provider restarted with a new signing key: the first token signed by it makes the
    client fetch the key set once more."""
    port = free_port()
    counting = CountingClient()
    client = OidcClient("google", "astra", "secret", f"http://127.0.0.1:{port}", counting.http, 0.0)
    try:
        async with running_oidc_provider(port) as first:
            assert (await redeem_as(client, first, "rotating"))["sub"] == "rotating"
        async with running_oidc_provider(port) as second:
            assert (await redeem_as(client, second, "rotating"))["sub"] == "rotating"
    finally:
        await client.aclose()
    assert counting.paths["/jwks"] == 2
    assert counting.paths["/.well-known/openid-configuration"] == 1


async def test_a_provider_that_is_down_is_unavailable() -> None:
    client = OidcClient("google", "astra", "secret", f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(Unavailable):
            await client.authorization_url(REDIRECT_URI, "s", "n", "v" * 43)
    finally:
        await client.aclose()
