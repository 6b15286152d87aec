"""Sign-in through identity providers (contract §3): the URLs, the login-code exchange and the
internal Session hand-off."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody

from application.identity.oauth import BrokeredSession
from entrypoints.http.dependencies import INTERNAL_CREDENTIAL, CallerDep, Deps


class CallbackUrlResponse(msgspec.Struct):
    callback_url: str


class RedirectUrlResponse(msgspec.Struct):
    redirect_url: str


class ExchangeRequest(msgspec.Struct):
    login_code: str = ""


class ExchangeResponse(msgspec.Struct):
    token: str
    is_new_user: bool


class SessionRequest(msgspec.Struct):
    email: str = ""
    access_token: str = ""
    refresh_token: str = ""
    from_link: str = ""
    country: str = ""
    provider: str = ""
    extra: dict[str, Any] = msgspec.field(default_factory=dict)


class SessionResponse(msgspec.Struct):
    redirect_url: str
    error_code: str
    is_new_user: bool


class OAuthController(Controller):
    """No credential: these start or finish a sign-in."""

    path = "/account/v1/auth/oauth"
    tags = ["AccountService"]

    @get("/{provider:str}/callback-url", operation_id="OAuthCallbackUrl")
    async def callback_url(self, provider: FromPath[str], container: Deps) -> CallbackUrlResponse:
        return CallbackUrlResponse(callback_url=container.identity.oauth_urls.callback(provider))

    @get("/{provider:str}/post-callback-url", operation_id="OAuthPostCallbackUrl")
    async def post_callback_url(
        self, provider: FromPath[str], container: Deps
    ) -> RedirectUrlResponse:
        container.identity.oauth_urls.callback(provider)  # unknown provider → 5
        return RedirectUrlResponse(redirect_url=container.identity.oauth_urls.post_callback())

    @post("/exchange", operation_id="OAuthExchange", status_code=200)
    async def exchange(self, data: JSONBody[ExchangeRequest], container: Deps) -> ExchangeResponse:
        token, is_new = await container.identity.login_codes.exchange(data.login_code)
        return ExchangeResponse(token=token, is_new_user=is_new)


class InternalAuthController(Controller):
    path = "/account/internal/v1/auth"
    tags = ["AccountService"]
    dependencies = INTERNAL_CREDENTIAL

    @post("/session", operation_id="Session", status_code=200)
    async def session(
        self, data: JSONBody[SessionRequest], container: Deps, caller: CallerDep
    ) -> SessionResponse:
        handed = await container.identity.broker_session(
            BrokeredSession(
                caller=caller,
                email=data.email,
                provider=data.provider,
                access_token=data.access_token,
                refresh_token=data.refresh_token,
                from_link=data.from_link,
                country=data.country,
                subject=str(data.extra.get("sub") or ""),
            )
        )
        return SessionResponse(
            redirect_url=handed.redirect_url,
            error_code=handed.error_code,
            is_new_user=handed.is_new_user,
        )
