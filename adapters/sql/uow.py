"""The SQL unit of work: one session per `async with`, rolled back unless committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.sql.agents.repositories import (
    SqlAgentConfigRepository,
    SqlAgentRepository,
    SqlIntentionRepository,
    SqlLeadRepository,
    TenantWrites,
)
from adapters.sql.billing.allowances import CreditAllowances
from adapters.sql.billing.catalog import SqlPlanRepository, SqlSubscriptionRepository
from adapters.sql.billing.ledger import SqlLedgerRepository
from adapters.sql.billing.payments import SqlPaymentRepository
from adapters.sql.chat.repositories import SqlConversationRepository, SqlMessageRepository
from adapters.sql.errors import translate_unavailable
from adapters.sql.identity.oauth import SqlOAuthRepository
from adapters.sql.identity.repositories import (
    SqlChallengeRepository,
    SqlSessionRepository,
    SqlUserRepository,
)
from adapters.sql.outbox import SqlOutbox
from adapters.sql.tenancy.api_keys import SqlApiKeyRepository
from adapters.sql.tenancy.repositories import (
    SqlInvitationRepository,
    SqlMembershipRepository,
    SqlTenantRepository,
)
from application.common.ports import UnitOfWork, UnitOfWorkFactory

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlUnitOfWork(UnitOfWork):
    """Repositories share one `AsyncSession`; use once per `async with` block."""

    users: SqlUserRepository
    sessions: SqlSessionRepository
    challenges: SqlChallengeRepository
    tenants: SqlTenantRepository
    memberships: SqlMembershipRepository
    invitations: SqlInvitationRepository
    api_keys: SqlApiKeyRepository
    ledger: SqlLedgerRepository
    plans: SqlPlanRepository
    subscriptions: SqlSubscriptionRepository
    payments: SqlPaymentRepository
    oauth: SqlOAuthRepository
    agents: SqlAgentRepository
    agent_configs: SqlAgentConfigRepository
    intentions: SqlIntentionRepository
    leads: SqlLeadRepository
    conversations: SqlConversationRepository
    messages: SqlMessageRepository
    outbox: SqlOutbox

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        on_outbox_commit: Callable[[], None] | None = None,
        on_users_commit: Callable[[set[str]], None] | None = None,
        on_agents_commit: Callable[[set[str]], None] | None = None,
        now: Callable[[], datetime] = _utc_now,
        read_only: bool = False,
        allowances: CreditAllowances | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._allowances = allowances
        self._on_outbox_commit = on_outbox_commit
        self._on_users_commit = on_users_commit
        self._on_agents_commit = on_agents_commit
        self._now = now
        self._read_only = read_only
        self._session: AsyncSession | None = None
        self._agent_writes = TenantWrites()

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a SqlUnitOfWork cannot be entered twice at once")
        session = self._sessionmaker()
        self._session = session
        self.users = SqlUserRepository(session)
        self.sessions = SqlSessionRepository(session)
        self.challenges = SqlChallengeRepository(session)
        self.tenants = SqlTenantRepository(session)
        self.memberships = SqlMembershipRepository(session)
        self.invitations = SqlInvitationRepository(session)
        self.api_keys = SqlApiKeyRepository(session)
        self.ledger = SqlLedgerRepository(session, self._allowances)
        self.plans = SqlPlanRepository(session)
        self.subscriptions = SqlSubscriptionRepository(session)
        self.payments = SqlPaymentRepository(session)
        self.oauth = SqlOAuthRepository(session)
        self._agent_writes = TenantWrites()
        self.agents = SqlAgentRepository(session, self._agent_writes)
        self.agent_configs = SqlAgentConfigRepository(session, self._agent_writes)
        self.intentions = SqlIntentionRepository(session, self._agent_writes)
        self.leads = SqlLeadRepository(session)
        self.conversations = SqlConversationRepository(session)
        self.messages = SqlMessageRepository(session, self._allowances)
        self.outbox = SqlOutbox(session, self._now)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if not session.in_transaction():
            # Nothing ran, or everything was committed: no connection is held and there is
            # nothing to roll back. Skipping rollback and close spares two greenlet hops,
            # which were most of the cost of a unit of work that needed no SQL (a chat
            # turn's checks, cached reads).
            return
        try:
            # Anything not committed is discarded; after a commit this is a no-op.
            await session.rollback()
        except Exception:
            # The block's own error (if any) matters more than a failed rollback on a dead link.
            logger.warning("rollback failed", exc_info=True)
        finally:
            await session.close()

    async def commit(self) -> None:
        if self._session is None:
            raise RuntimeError("commit outside of `async with`")
        if self._read_only:
            raise RuntimeError("a reading unit of work cannot commit")
        await self._commit(self._session)
        changed, self.users.changed = self.users.changed, set()
        if changed and self._on_users_commit is not None:
            self._on_users_commit(changed)
        tenant_ids, self._agent_writes.tenant_ids = self._agent_writes.tenant_ids, set()
        if tenant_ids and self._on_agents_commit is not None:
            self._on_agents_commit(tenant_ids)
        added, self.outbox.added = self.outbox.added, 0
        if added and self._on_outbox_commit is not None:
            try:
                self._on_outbox_commit()
            except Exception:
                # The data is committed; a missed wake-up only delays the relay's next poll.
                logger.exception("on_outbox_commit hook failed")

    @staticmethod
    @translate_unavailable
    async def _commit(session: AsyncSession) -> None:
        await session.commit()


class SqlUnitOfWorkFactory(UnitOfWorkFactory):
    """Hands out a fresh `SqlUnitOfWork` per call; the composition root keeps one of these."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        on_outbox_commit: Callable[[], None] | None = None,
        *,
        on_users_commit: Callable[[set[str]], None] | None = None,
        on_agents_commit: Callable[[set[str]], None] | None = None,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._on_outbox_commit = on_outbox_commit
        self._on_users_commit = on_users_commit
        self._on_agents_commit = on_agents_commit
        self._now = now
        engine = sessionmaker.kw["bind"]
        # One per engine, so per process: this process's credit allowances (PostgreSQL).
        self.allowances: CreditAllowances | None = None
        if isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql":
            self.allowances = CreditAllowances(engine)
        # The same engine and pool in autocommit: a SELECT goes alone, with no BEGIN before
        # it and no ROLLBACK after (two round trips of three for a one-read check).
        self._reading_sessionmaker = async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            autoflush=False,
        )

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self._sessionmaker,
            on_outbox_commit=self._on_outbox_commit,
            on_users_commit=self._on_users_commit,
            on_agents_commit=self._on_agents_commit,
            now=self._now,
            allowances=self.allowances,
        )

    def reading(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self._reading_sessionmaker, now=self._now, read_only=True, allowances=self.allowances
        )
