"""Sign-in through identity providers (contract §3): the redirect flow, its URLs, the
login-code exchange, the internal Session hand-off, and the tenant's WATI account.

The browser-facing routes (`/login`, `/callback`) always answer with a redirect, a refusal
included (`?error=`); the JSON ones answer `{code, message}`.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.response import Redirect

from application.identity.oauth import BrokeredSession
from application.identity.oauth_flow import ProviderCallback, StartedSignIn
from domain.identity.oauth import ATTEMPT_LIFETIME
from entrypoints.http.dependencies import (
    ANY_CREDENTIAL,
    INTERNAL_CREDENTIAL,
    CallerDep,
    Deps,
    client_ip,
)

# The browser's key to its sign-ins in flight: sent back only to the callback's path.
BROWSER_COOKIE = "astra_oauth_browser"
COOKIE_PATH = "/account/v1/auth/oauth"


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


class WatiUserInfoResponse(msgspec.Struct):
    wati_email: str
    wati_tenant: str
    wati_long_life_token: str


def _browser_key(request: Request[Any, Any, Any]) -> str:
    return request.cookies.get(BROWSER_COOKIE, "")


def _browser_cookie(started: StartedSignIn, container: Deps) -> Cookie:
    return Cookie(
        key=BROWSER_COOKIE,
        value=started.browser_key,
        path=COOKIE_PATH,
        max_age=int(ATTEMPT_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=container.settings.public_url.startswith("https://"),
    )


class OAuthController(Controller):
    """No credential: these start or finish a sign-in."""

    path = COOKIE_PATH
    tags = ["AccountService"]

    @get("/{provider:str}", operation_id="OAUTHLoginAndRegister")
    async def login_and_register(
        self, provider: FromPath[str], request: Request[Any, Any, Any], container: Deps
    ) -> Response[RedirectUrlResponse]:
        started = await container.identity.oauth_sign_in.start(
            provider, _browser_key(request), client_ip(request)
        )
        return Response(
            RedirectUrlResponse(redirect_url=started.authorization_url),
            cookies=[_browser_cookie(started, container)],
        )

    @get("/{provider:str}/login", operation_id="OAuthLoginProxy", status_code=302)
    async def login_proxy(
        self, provider: FromPath[str], request: Request[Any, Any, Any], container: Deps
    ) -> Redirect:
        started = await container.identity.oauth_sign_in.start_redirect(
            provider, _browser_key(request), client_ip(request)
        )
        cookies = [_browser_cookie(started, container)] if started.browser_key else []
        return Redirect(started.authorization_url, status_code=302, cookies=cookies)

    @get("/{provider:str}/callback", operation_id="OAuthAuthorizeProxy", status_code=302)
    async def authorize_proxy(
        self,
        provider: FromPath[str],
        request: Request[Any, Any, Any],
        container: Deps,
        code: FromQuery[str] = "",
        # `state` is a name Litestar keeps for the application state.
        oauth_state: Annotated[str, QueryParameter(name="state")] = "",
        error: FromQuery[str] = "",
    ) -> Redirect:
        next_url = await container.identity.oauth_sign_in.finish(
            ProviderCallback(provider, code, oauth_state, error, _browser_key(request))
        )
        return Redirect(next_url, status_code=302)

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
                extra=data.extra,
            )
        )
        return SessionResponse(
            redirect_url=handed.redirect_url,
            error_code=handed.error_code,
            is_new_user=handed.is_new_user,
        )


class WatiUserInfoController(Controller):
    path = "/account/v1/tenants"
    tags = ["AccountService"]
    dependencies = ANY_CREDENTIAL

    @get("/{tenant_id:str}/wati-user-info", operation_id="GetTenantWatiUserInfo")
    async def wati_user_info(
        self, tenant_id: FromPath[str], container: Deps, caller: CallerDep
    ) -> WatiUserInfoResponse:
        info = await container.identity.wati_links.info(caller, tenant_id)
        return WatiUserInfoResponse(
            wati_email=info.wati_email,
            wati_tenant=info.wati_tenant,
            wati_long_life_token=info.wati_long_life_token,
        )
