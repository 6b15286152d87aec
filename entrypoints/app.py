"""The composition root's HTTP face: `create_app` builds the Litestar application."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Tag
from litestar.types import ASGIApp

from entrypoints.container import Overrides, build_container
from entrypoints.http.agents.controllers import (
    AgentConfigController,
    AgentController,
    IntentionController,
    LeadController,
    TemplateController,
)
from entrypoints.http.api_keys.controllers import ApiKeyController
from entrypoints.http.billing.controllers import (
    AdminSubscriptionController,
    InternalCreditsController,
    PaymentWebhookController,
    PlanController,
    SubscriptionController,
    SubscriptionVariantController,
    UsageController,
)
from entrypoints.http.billing.local_pages import LocalBillingPagesController
from entrypoints.http.chat.controllers import ChatController
from entrypoints.http.conventions import TYPE_DECODERS, Int64SchemaPlugin
from entrypoints.http.dependencies import provide_container
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.health import HealthController, MediaController
from entrypoints.http.identity.controllers import AuthController, UserController
from entrypoints.http.identity.oauth import (
    InternalAuthController,
    OAuthController,
    WatiUserInfoController,
)
from entrypoints.http.input_guard import InputGuardMiddleware
from entrypoints.http.openapi_answers import COMPONENTS as OPENAPI_COMPONENTS
from entrypoints.http.openapi_answers import document_answers
from entrypoints.http.request_id import RequestIdMiddleware
from entrypoints.http.requests import AstraRequest
from entrypoints.http.security_headers import SecurityHeadersMiddleware
from entrypoints.http.tenancy.controllers import (
    InternalTenantController,
    InviteController,
    TenantController,
    UserTenantController,
)
from entrypoints.logs import configure_logging
from entrypoints.metrics import MetricsController
from entrypoints.settings import Settings, load_settings
from entrypoints.shutdown import drain_on_signals
from entrypoints.telemetry import configure_tracing, tracing_middleware

logger = logging.getLogger("astra")

OPENAPI_TAGS = [
    Tag(name="AccountService", description="Identity, users, tenancy, API keys, subscriptions"),
    Tag(name="MappingService", description="Agents, templates, intentions and leads"),
    Tag(name="UsageService", description="Plans, credits and usage"),
    Tag(name="chat", description="Chat with agents"),
    Tag(name="Operations", description="Health and readiness"),
]


def create_served_app() -> Litestar:
    """The application `astra serve` runs (a uvicorn factory): drains on SIGTERM/SIGINT and
    freezes its start-up heap."""
    return create_app(drain_on_signal=True, freeze_heap=True)


def create_app(
    settings: Settings | None = None,
    overrides: Overrides | None = None,
    *,
    drain_on_signal: bool = False,
    freeze_heap: bool = False,
) -> Litestar:
    """Build the application; nothing connects until the lifespan starts.

    `overrides` substitutes adapters (e.g. a fixed clock, a capturing email sender) so tests
    and benchmarks use the same wiring as production without monkeypatching.
    `drain_on_signal` chains the bounded graceful shutdown (`entrypoints.shutdown`) in front
    of the server's SIGTERM/SIGINT handlers; only a process that owns its signals wants it.
    `freeze_heap` moves everything alive once the service has started (modules, classes,
    the container: ~180k objects) out of the collector's sight, so a full collection no
    longer walks them: those walks were 150 to 250 ms pauses every 10 to 20 s under load. Only
    for a process that runs one app for its whole life (tests build many).
    """
    resolved = settings if settings is not None else load_settings()
    if not logging.getLogger().handlers:
        # Worker processes of `astra serve --workers N` start with no logging set up.
        configure_logging()
    chosen = overrides or Overrides()
    tracer_provider = chosen.tracer_provider or configure_tracing(resolved)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with build_container(resolved, chosen, tracer_provider) as container:
            app.state.container = container
            if freeze_heap:
                gc.collect()
                gc.freeze()
            if not drain_on_signal:
                yield
                return
            with drain_on_signals(container.drain, asyncio.get_running_loop()):
                yield

    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            MediaController,
            AuthController,
            OAuthController,
            WatiUserInfoController,
            InternalAuthController,
            UserController,
            ApiKeyController,
            UserTenantController,
            TenantController,
            InviteController,
            InternalTenantController,
            SubscriptionVariantController,
            SubscriptionController,
            PaymentWebhookController,
            LocalBillingPagesController,
            AdminSubscriptionController,
            PlanController,
            UsageController,
            InternalCreditsController,
            TemplateController,
            AgentController,
            AgentConfigController,
            IntentionController,
            LeadController,
            ChatController,
        ],
        dependencies={"container": Provide(provide_container)},
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        type_decoders=TYPE_DECODERS,
        plugins=[Int64SchemaPlugin()],
        request_max_body_size=resolved.max_body_bytes,
        request_class=AstraRequest,
        openapi_config=OpenAPIConfig(
            title="Astra API",
            version="1.0.0",
            description="Multi-tenant backend for AI customer-service agents.",
            tags=OPENAPI_TAGS,
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            use_handler_docstrings=True,
            components=OPENAPI_COMPONENTS,
        ),
        debug=False,
        logging_config=None,  # ours (JSON with request and trace ids), set up by the CLI
    )
    document_answers(app)
    # Wrapped around the whole handler (not per route) so that unknown routes and
    # errors raised before routing also get a request id and a server span.
    handler: ASGIApp = RequestIdMiddleware(
        InputGuardMiddleware(app.asgi_handler), access_log=resolved.access_log
    )
    handler = SecurityHeadersMiddleware(handler, hsts=resolved.is_production)
    if tracer_provider is not None:
        handler = tracing_middleware(tracer_provider)(app=handler)
    app.asgi_handler = handler
    return app
