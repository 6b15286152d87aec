"""An OpenID Connect client for one provider: authorization code with PKCE S256, nonce, and
id_token verification (issuer, audience, expiry with a small leeway, nonce, signature).

The authorization request, the token request and PKCE come from authlib's framework-free
OAuth 2.0 parts (its httpx integration is deprecated in 1.9), JOSE from joserfc (authlib's
own `jose` is deprecated in favour of it); the HTTP calls are httpx with a timeout on each.
Discovery and the JWKS are fetched once and cached; an id_token signed by a key the cache
does not know makes it fetch the JWKS again (the provider rotated its keys).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from application.identity.ports import IdentityProvider, ProviderGrant, VerifiedIdentity
from domain.errors import Unauthenticated, Unavailable

TIMEOUT_SECONDS = 10.0
LEEWAY_SECONDS = 60
SCOPES = "openid email profile"
ALGORITHMS = ["RS256", "ES256"]  # asymmetric only: never "none", never HS256 with a public key
JWKS_REFRESH_SECONDS = 60.0


class OidcClient(IdentityProvider):
    def __init__(
        self,
        name: str,
        client_id: str,
        client_secret: str,
        issuer: str,
        http: httpx.AsyncClient | None = None,
        jwks_refresh_seconds: float = JWKS_REFRESH_SECONDS,
    ) -> None:
        self.name = name
        self._client_id = client_id
        self._client_secret = client_secret
        self._issuer = issuer.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_fetched_at = 0.0
        self._jwks_refresh_seconds = jwks_refresh_seconds
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON object from the provider. Unreachable, failing (5xx) or talking nonsense →
        `Unavailable`; any other refusal (4xx: a bad or used code, a revoked token) →
        `Unauthenticated`."""
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as error:
            raise Unavailable(f"the {self.name} sign-in provider is unreachable") from error
        if response.status_code >= 500:
            raise Unavailable(f"the {self.name} sign-in provider is failing")
        if response.status_code != 200:
            raise Unauthenticated(f"the {self.name} sign-in provider refused the request")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise Unavailable(f"the {self.name} sign-in provider sent no JSON object")
        return body

    def _endpoint(self, metadata: dict[str, Any], name: str) -> str:
        url = metadata.get(name)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Unavailable(f"the {self.name} discovery document has no {name}")
        return url

    async def _discovery(self) -> dict[str, Any]:
        if self._metadata is None:
            async with self._lock:
                if self._metadata is None:
                    found = await self._call(
                        "GET", f"{self._issuer}/.well-known/openid-configuration"
                    )
                    if str(found.get("issuer", "")).rstrip("/") != self._issuer:
                        raise Unavailable(f"the {self.name} discovery names another issuer")
                    self._metadata = found
        return self._metadata

    async def _key_set(self, refresh: bool = False) -> KeySet:
        now = time.monotonic()
        # A forged token with an unknown key id must not make every request fetch the keys.
        stale = refresh and now - self._keys_fetched_at >= self._jwks_refresh_seconds
        if self._keys is None or stale:
            metadata = await self._discovery()
            found = await self._call("GET", self._endpoint(metadata, "jwks_uri"))
            try:
                self._keys = KeySet.import_key_set(found)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError):
                raise Unavailable(f"the {self.name} key set is malformed") from None
            self._keys_fetched_at = now
        return self._keys

    async def authorization_url(
        self, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        metadata = await self._discovery()
        url: str = prepare_grant_uri(
            self._endpoint(metadata, "authorization_endpoint"),
            client_id=self._client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=SCOPES,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def redeem(
        self, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderGrant:
        metadata = await self._discovery()
        # client_secret_post: Google and most providers take it; the secret stays out of URLs.
        form: str = prepare_token_request(
            "authorization_code",
            redirect_uri=redirect_uri,
            code=code,
            code_verifier=code_verifier,
            client_id=self._client_id,
            client_secret=self._client_secret,
        )
        tokens = await self._call(
            "POST",
            self._endpoint(metadata, "token_endpoint"),
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        claims = await self.verify_id_token(str(tokens.get("id_token", "")), nonce)
        info: dict[str, Any] = {}
        if metadata.get("userinfo_endpoint") and tokens.get("access_token"):
            info = await self._call(
                "GET",
                self._endpoint(metadata, "userinfo_endpoint"),
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            if info.get("sub") not in (None, claims["sub"]):
                raise Unauthenticated("userinfo names another subject than the id_token")
        merged = {**claims, **info}
        identity = VerifiedIdentity(
            provider=self.name,
            subject=str(claims["sub"]),
            email=str(merged.get("email", "")),
            email_verified=merged.get("email_verified") is True,
        )
        return ProviderGrant(
            identity,
            str(tokens.get("access_token", "")),
            str(tokens.get("refresh_token", "")),
            merged,
        )

    async def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise Unauthenticated("the sign-in provider sent no id_token")
        try:
            token = await self._decode(id_token)
            jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self._issuer},
                aud={"essential": True, "value": self._client_id},
                exp={"essential": True},
                sub={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
            audiences = token.claims["aud"]
            if isinstance(audiences, list) and len(audiences) > 1:
                # OIDC Core §3.1.3.7: with several audiences, the token must be for us (azp).
                jwt.JWTClaimsRegistry(azp={"essential": True, "value": self._client_id}).validate(
                    token.claims
                )
        except (JoseError, ValueError) as error:
            # joserfc's descriptions name the claim ("Invalid claim: 'nonce'"), never a value.
            reason = error.description if isinstance(error, JoseError) else "malformed"
            raise Unauthenticated(f"the id_token does not verify: {reason}") from None
        return dict(token.claims)

    async def _decode(self, id_token: str) -> jwt.Token:
        try:
            return jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
        except JoseError:
            # An unknown key id after a rotation: fetch the keys once more, then give up.
            return jwt.decode(id_token, await self._key_set(refresh=True), algorithms=ALGORITHMS)
