"""The OpenID Connect redirect sign-in (contract §3): OAUTHLoginAndRegister / OAuthLoginProxy
start it, OAuthAuthorizeProxy finishes it.

- Starting stores an attempt under the hash of a fresh `state`, with the `nonce`, the PKCE
  verifier and the hash of a browser key (kept by the browser in an HttpOnly cookie), for
  `ATTEMPT_LIFETIME`. Starts are counted per client address: each one writes a row.
- Finishing takes the attempt away (single use, whatever happens next), checks it belongs
  to this provider and this browser, then lets the provider redeem the code and verify the
  id_token. The browser always lands on the post-callback page: with `login_code`, or with
  `error=<StatusCode name>` and a readable `error_description`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from application.common.ports import (
    Clock,
    RateLimiter,
    SecretGenerator,
    SecretHasher,
    UnitOfWorkFactory,
)
from application.identity._support import count_or_refuse
from application.identity.oauth import CompleteSignIn, OAuthUrls, status_code_name
from application.identity.ports import IdentityProvider
from domain.errors import AstraError, Unauthenticated, Unimplemented
from domain.identity.oauth import ATTEMPT_LIFETIME, OAuthAttempt, known_provider

STARTS_PER_MINUTE_PER_IP = 30
MISMATCH = "the sign-in could not be matched to this browser; start it again"


@dataclass(frozen=True, slots=True)
class StartedSignIn:
    authorization_url: str
    browser_key: str = field(repr=False)  # the cookie value: reused when the browser had one


@dataclass(frozen=True, slots=True)
class ProviderCallback:
    provider: str
    code: str
    state: str
    error: str  # the provider's own `error` (the person declined, …)
    browser_key: str = field(repr=False)


class OAuthRedirectSignIn:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        providers: Mapping[str, IdentityProvider],
        complete: CompleteSignIn,
        urls: OAuthUrls,
        secrets: SecretGenerator,
        hasher: SecretHasher,
        limiter: RateLimiter,
        clock: Clock,
    ) -> None:
        self._uow = uow_factory
        self._providers = providers
        self._complete = complete
        self._urls = urls
        self._secrets = secrets
        self._hasher = hasher
        self._limiter = limiter
        self._clock = clock

    def provider(self, name: str) -> IdentityProvider:
        """Unknown → `NotFound` (5); known but not configured here → `Unimplemented` (12)."""
        known = known_provider(name)
        provider = self._providers.get(known)
        if provider is None:
            raise Unimplemented(f"sign-in with {known} is not configured on this server")
        return provider

    async def start(self, name: str, browser_key: str, client_ip: str) -> StartedSignIn:
        provider = self.provider(name)
        await count_or_refuse(
            self._limiter,
            f"oauth:start:{client_ip}",
            STARTS_PER_MINUTE_PER_IP,
            60,
            "too many sign-ins started from this address; try again later",
        )
        browser_key = browser_key if len(browser_key) >= 32 else self._secrets.token()
        state, nonce, verifier = (self._secrets.token() for _ in range(3))
        url = await provider.authorization_url(
            self._urls.callback(provider.name), state, nonce, verifier
        )
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.oauth.add_attempt(
                OAuthAttempt(
                    state_hash=self._hasher.hash(state),
                    provider=provider.name,
                    browser_hash=self._hasher.hash(browser_key),
                    nonce=nonce,
                    code_verifier=verifier,
                    expires_at=now + ATTEMPT_LIFETIME,
                    created_at=now,
                )
            )
            await uow.commit()
        return StartedSignIn(url, browser_key)

    async def start_redirect(self, name: str, browser_key: str, client_ip: str) -> StartedSignIn:
        """OAuthLoginProxy: like `start`, but a refusal is a page too (the post-callback
        URL with `error`) — a browser follows it, it does not read JSON."""
        try:
            return await self.start(name, browser_key, client_ip)
        except AstraError as refused:
            return StartedSignIn(self._refusal(refused), "")  # no cookie to set

    async def finish(self, callback: ProviderCallback) -> str:
        """The URL the browser goes to next."""
        try:
            code = await self._finish(callback)
        except AstraError as refused:
            return self._refusal(refused)
        return self._urls.post_callback(login_code=code)

    async def _finish(self, callback: ProviderCallback) -> str:
        provider = self.provider(callback.provider)
        state = callback.state.strip()
        async with self._uow() as uow:
            attempt = (
                await uow.oauth.take_attempt(self._hasher.hash(state), self._clock.now())
                if state
                else None
            )
            await uow.commit()  # used up, whatever happens next
        if (
            attempt is None
            or attempt.provider != provider.name
            or not self._hasher.matches(callback.browser_key, attempt.browser_hash)
        ):
            raise Unauthenticated(MISMATCH)
        if callback.error:
            # Only the error code's own alphabet (RFC 6749 §4.1.2.1) goes back to the page.
            reason = re.sub(r"[^a-z_]", "", callback.error.lower())[:64]
            raise Unauthenticated(f"{provider.name} did not sign you in ({reason})")
        if not callback.code:
            raise Unauthenticated(f"{provider.name} sent no authorization code")
        grant = await provider.redeem(
            callback.code, self._urls.callback(provider.name), attempt.code_verifier, attempt.nonce
        )
        code, _ = await self._complete(grant)  # the exchange tells the app `is_new_user`
        return code

    def _refusal(self, refused: AstraError) -> str:
        return self._urls.post_callback(
            error=status_code_name(refused), error_description=refused.message
        )
