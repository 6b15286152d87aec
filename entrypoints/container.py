"""The composition root: picks adapters from settings and wires the use cases."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from adapters.email.log import LogEmailSender
from adapters.email.relay import EmailRelay
from adapters.email.smtp import SmtpEmailSender
from adapters.images.pillow import PillowImageProcessor
from adapters.jobs import RepeatingJob
from adapters.memory.account_cache import CachedAccountReader
from adapters.memory.agent_cache import CachedAgentReader
from adapters.memory.api_key_cache import MemoryApiKeyCache
from adapters.memory.limits import MemoryRateLimiter
from adapters.memory.revocations import MemorySessionRevocations
from adapters.memory.session_cache import CachedSessionDirectory
from adapters.redis.client import create_redis
from adapters.redis.client import ping as redis_ping
from adapters.redis.limits import RedisRateLimiter
from adapters.redis.revocations import RedisSessionRevocations
from adapters.security.clock import SystemClock
from adapters.security.ids import UuidGenerator
from adapters.security.oidc import OidcClient
from adapters.security.passwords import Argon2PasswordHasher
from adapters.security.sealing import FernetSecretBox
from adapters.security.secrets import HmacSecretHasher, OsSecretGenerator, Sha256TokenHasher
from adapters.security.tokens import JwtTokenIssuer
from adapters.sql.agents.reader import SqlAgentCounter, SqlAgentReader
from adapters.sql.engine import create_engine, create_sessionmaker
from adapters.sql.engine import ping as database_ping
from adapters.sql.identity.reader import SqlAccountReader, SqlSessionDirectory
from adapters.sql.migrate import upgrade
from adapters.sql.outbox import SqlPendingEmailQueue
from adapters.sql.uow import SqlUnitOfWorkFactory
from adapters.storage.local import LocalObjectStorage
from application.billing.subscriptions import BillingPolicy
from application.chat.ports import LLMBackend
from application.common.email_delivery import DeliverPendingEmails
from application.common.ports import (
    Clock,
    EmailSender,
    IdGenerator,
    RateLimiter,
    SecretGenerator,
)
from application.identity.commands import IdentityPolicy
from application.identity.oauth import OAuthUrls
from application.identity.ports import (
    IdentityProvider,
    PasswordHasher,
    SessionRevocations,
)
from application.tenancy.commands import TenancyPolicy
from entrypoints.agents_wiring import AgentUseCases, wire_agents
from entrypoints.api_key_wiring import ApiKeyUseCases, wire_api_keys
from entrypoints.billing_wiring import BillingUseCases, wire_billing
from entrypoints.chat_wiring import ChatUseCases, open_chat
from entrypoints.identity_wiring import IdentityUseCases, wire_identity
from entrypoints.metrics import watch_pool
from entrypoints.payments_wiring import payment_provider_for
from entrypoints.settings import Settings, resolve_encryption_keys, resolve_jwt_secret
from entrypoints.shutdown import Drain
from entrypoints.telemetry import instrument_clients
from entrypoints.tenancy_wiring import TenancyUseCases, wire_tenancy

logger = logging.getLogger("astra")

ACCESS_TOKEN_TTL_SECONDS = 15 * 60
JWT_ISSUER = "astra"
JWT_AUDIENCE = "astra-api"


@dataclass(slots=True)
class Container:
    settings: Settings
    identity: IdentityUseCases
    api_keys: ApiKeyUseCases
    tenancy: TenancyUseCases
    billing: BillingUseCases
    agents: AgentUseCases
    chat: ChatUseCases
    readiness: Callable[[], Awaitable[dict[str, str]]]
    media_path: Callable[[str], Path | None]
    email_relay: EmailRelay
    # SIGTERM has been received: readiness refuses, running turns end after the grace period.
    drain: Drain


@dataclass(frozen=True, slots=True)
class Overrides:
    """Adapters a caller (tests, benchmarks) may substitute; None keeps the configured one."""

    clock: Clock | None = None
    email_sender: EmailSender | None = None
    password_hasher: PasswordHasher | None = None
    ids: IdGenerator | None = None
    secrets: SecretGenerator | None = None
    tracer_provider: TracerProvider | None = None
    # e.g. the local backend with a delay between chunks, to stop or disconnect mid-reply.
    llm_backend: LLMBackend | None = None


@asynccontextmanager
async def build_container(
    settings: Settings,
    overrides: Overrides,
    tracer_provider: TracerProvider | None = None,
    *,
    run_recovery: bool | None = None,
) -> AsyncIterator[Container]:
    """Open engines and clients, start background work; close everything on exit.

    Chat recovery and the payment jobs (re-driving stored events, daily reconciliation) run
    where `run_recovery` says; by default only on the embedded SQLite database, where the
    serving process is the only one (elsewhere `astra worker` runs them).
    """
    background_jobs = settings.is_sqlite if run_recovery is None else run_recovery
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
        stack.push_async_callback(engine.dispose)
        watch_pool(engine)
        if tracer_provider is not None:
            instrument_clients(tracer_provider, engine)
        if settings.is_sqlite:
            # The embedded default keeps itself migrated; PostgreSQL uses `astra db upgrade`.
            await upgrade(settings.database_url)

        clock: Clock = overrides.clock or SystemClock()
        redis_client: Any = None
        if settings.redis_url:
            redis_client = create_redis(
                settings.redis_url,
                max_connections=settings.redis_max_connections,
                pool_timeout=settings.redis_pool_timeout_seconds,
            )
            stack.push_async_callback(redis_client.aclose)
        limiter: RateLimiter = (
            RedisRateLimiter(redis_client, prefix=settings.redis_prefix)
            if redis_client is not None
            else MemoryRateLimiter(clock)
        )
        revocations: SessionRevocations = (
            RedisSessionRevocations(redis_client, prefix=settings.redis_prefix, clock=clock)
            if redis_client is not None
            else MemorySessionRevocations(clock)
        )
        sender = overrides.email_sender or _email_sender(settings)
        relay = EmailRelay(DeliverPendingEmails(SqlPendingEmailQueue(engine), sender, clock))
        accounts = CachedAccountReader(SqlAccountReader(engine))
        # Agent lists and chat profiles: the writing replica sees its writes at once (the
        # unit of work invalidates the tenant), other replicas within a second.
        agent_reader = CachedAgentReader(SqlAgentReader(engine))
        uow = SqlUnitOfWorkFactory(
            create_sessionmaker(engine),
            on_outbox_commit=relay.wake,
            on_users_commit=accounts.invalidate,
            on_agents_commit=agent_reader.invalidate,
            now=clock.now,
        )
        allowances = uow.allowances
        if allowances is not None:

            async def give_back_allowances() -> None:
                # Before the engine closes (the stack unwinds backwards): hand back credits
                # this process drew and no longer needs, rather than leave them to the sweep.
                await allowances.close_idle(clock.now())

            stack.push_async_callback(give_back_allowances)
        storage = LocalObjectStorage(
            settings.data_dir / "media", public_base_url=f"{settings.public_url}/media"
        )
        jwt_secret = resolve_jwt_secret(settings)
        passwords = overrides.password_hasher
        if passwords is None:
            argon2 = Argon2PasswordHasher(
                time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
            )
            stack.callback(argon2.close)
            passwords = argon2
        ids = overrides.ids or UuidGenerator()
        secrets = overrides.secrets or OsSecretGenerator()
        # Short-lived emailed codes need a keyed hash; long-lived random tokens don't, and
        # hashing them without the JWT secret lets that secret rotate without killing them.
        secret_hasher = HmacSecretHasher(_derive_key(jwt_secret, b"astra/secret-hasher"))
        token_hasher = Sha256TokenHasher()
        tokens = JwtTokenIssuer(
            secret=jwt_secret,
            issuer=JWT_ISSUER,
            audience=JWT_AUDIENCE,
            ttl_seconds=ACCESS_TOKEN_TTL_SECONDS,
            clock=clock,
        )
        identity = wire_identity(
            uow=uow,
            accounts=accounts,
            clock=clock,
            ids=ids,
            secrets=secrets,
            secret_hasher=secret_hasher,
            passwords=passwords,
            tokens=tokens,
            revocations=revocations,
            sessions=CachedSessionDirectory(SqlSessionDirectory(engine)),
            limiter=limiter,
            images=PillowImageProcessor(),
            storage=storage,
            policy=IdentityPolicy(
                frontend_url=settings.effective_frontend_url,
                code_sends_per_hour_per_ip=settings.code_sends_per_ip_per_hour,
                login_attempts_per_minute_per_ip=settings.login_attempts_per_ip_per_minute,
            ),
            oauth_urls=OAuthUrls(
                public_url=settings.public_url,
                post_callback_url=settings.effective_oauth_post_callback_url,
            ),
            identity_providers=_identity_providers(settings, stack),
            secret_box=FernetSecretBox(resolve_encryption_keys(settings)),
        )
        api_keys = wire_api_keys(
            uow=uow,
            clock=clock,
            ids=ids,
            secrets=secrets,
            secret_hasher=token_hasher,
            cache=MemoryApiKeyCache(),
        )
        stack.push_async_callback(api_keys.authenticate.wait_for_touches)
        tenancy = wire_tenancy(
            uow=uow,
            clock=clock,
            ids=ids,
            secrets=secrets,
            secret_hasher=token_hasher,
            passwords=passwords,
            tokens=tokens,
            limiter=limiter,
            policy=TenancyPolicy(
                frontend_url=settings.effective_frontend_url,
                trial_days=settings.trial_days,
                reinvite_cooldown_seconds=settings.reinvite_cooldown_seconds,
            ),
        )
        billing = wire_billing(
            uow=uow,
            clock=clock,
            ids=ids,
            policy=BillingPolicy(trial_days=settings.trial_days),
            agents=SqlAgentCounter(engine),
            payment_provider=lambda catalog: payment_provider_for(
                settings, uow, clock, catalog, _derive_key(jwt_secret, b"local-checkout").hex()
            ),
            billing_return_url=f"{settings.effective_frontend_url}/billing",
        )
        agents = wire_agents(
            uow=uow,
            clock=clock,
            ids=ids,
            reader=agent_reader,
            billing_policy=billing.policy,
        )
        chat = await stack.enter_async_context(
            open_chat(
                settings=settings,
                redis=redis_client,
                uow=uow,
                clock=clock,
                ids=ids,
                agents=agent_reader,
                ledger=billing.ledger,
                rate_limiter=limiter,
                leads=agents.record_lead,
                backend=overrides.llm_backend,
                run_recovery=background_jobs,
            )
        )
        if background_jobs:
            for job in payment_jobs(billing):
                job.start()
                stack.push_async_callback(job.stop)

        async def readiness() -> dict[str, str]:
            checks: dict[str, str] = {}
            try:
                await database_ping(engine)
                checks["database"] = "ok"
            except Exception as exc:
                logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
                checks["database"] = "unreachable"
            if redis_client is not None:
                try:
                    await redis_ping(redis_client)
                    checks["redis"] = "ok"
                except Exception as exc:
                    logger.warning("readiness: redis unreachable (%s)", type(exc).__name__)
                    checks["redis"] = "unreachable"
            return checks

        relay.start()
        stack.push_async_callback(relay.stop)
        yield Container(
            settings=settings,
            identity=identity,
            api_keys=api_keys,
            tenancy=tenancy,
            billing=billing,
            agents=agents,
            chat=chat,
            readiness=readiness,
            media_path=storage.resolve,
            email_relay=relay,
            drain=Drain(settings.shutdown_grace_seconds, chat.send.end_running),
        )


PAYMENT_REDRIVE_SECONDS = 30.0
RECONCILE_SECONDS = 24 * 3600.0


def payment_jobs(billing: BillingUseCases) -> list[RepeatingJob]:
    """Re-drive stored payment events not applied yet; reconcile with the provider daily."""
    return [
        RepeatingJob(
            billing.payment_events.redrive,
            PAYMENT_REDRIVE_SECONDS,
            name="payment events",
            logger=logger,
        ),
        RepeatingJob(
            billing.reconcile.run_once, RECONCILE_SECONDS, name="billing reconcile", logger=logger
        ),
    ]


def _derive_key(secret: str, label: bytes) -> bytes:
    """A key of its own for each use of the one configured secret."""
    return hmac.new(secret.encode(), label, hashlib.sha256).digest()


def _identity_providers(settings: Settings, stack: AsyncExitStack) -> dict[str, IdentityProvider]:
    """An OpenID Connect client for each configured provider; the others answer `12`."""
    providers: dict[str, IdentityProvider] = {}
    for name, client in settings.oauth.items():
        if client.configured:
            oidc = OidcClient(name, client.client_id, client.client_secret, client.issuer)
            stack.push_async_callback(oidc.aclose)
            providers[name] = oidc
    return providers


def _email_sender(settings: Settings) -> EmailSender:
    if settings.smtp.host:
        return SmtpEmailSender(
            host=settings.smtp.host,
            port=settings.smtp.port,
            username=settings.smtp.username,
            password=settings.smtp.password,
            starttls=settings.smtp.starttls,
            sender=settings.smtp.sender,
        )
    return LogEmailSender()
