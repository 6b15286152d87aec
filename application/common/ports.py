"""Ports every area uses: time, ids, secrets, limits, email outbox and the unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

if TYPE_CHECKING:
    from application.agents.ports import (
        AgentConfigRepository,
        AgentRepository,
        IntentionRepository,
        LeadRepository,
    )
    from application.billing.catalog_ports import PlanRepository, SubscriptionRepository
    from application.billing.ledger_ports import LedgerRepository
    from application.billing.payment_ports import PaymentRepository
    from application.chat.ports import ConversationRepository, MessageRepository
    from application.identity.ports import (
        ChallengeRepository,
        OAuthRepository,
        SessionRepository,
        UserRepository,
    )
    from application.tenancy.ports import (
        ApiKeyRepository,
        InvitationRepository,
        MembershipRepository,
        TenantRepository,
    )


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str: ...


class SecretGenerator(Protocol):
    def token(self) -> str:
        """An unguessable URL-safe token of at least 128 random bits."""
        ...

    def numeric_code(self, digits: int) -> str: ...


class SecretHasher(Protocol):
    """Keyed one-way hash for short secrets (codes, tokens) that are looked up by hash."""

    def hash(self, secret: str) -> str: ...

    def matches(self, secret: str, hashed: str) -> bool: ...


class SecretBox(Protocol):
    """Authenticated encryption for secrets Astra must give back (a provider's token).

    Keys rotate: `seal` uses the newest key, `open` any configured one."""

    def seal(self, plain: str) -> str: ...

    def open(self, sealed: str) -> str:
        """The plain text; `Unavailable` when no configured key opens it."""
        ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0


class RateLimiter(Protocol):
    """Fixed-window counters shared by every replica."""

    async def hit(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        """Count one event; refuse it when the window already holds `limit` events."""
        ...

    async def peek(self, key: str, limit: int, window_seconds: int) -> RateDecision:
        """Tell whether an event would be refused, without counting one."""
        ...

    async def reset(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str


class Outbox(Protocol):
    """Emails queued inside the unit of work; they leave only after it commits."""

    async def add(self, email: OutgoingEmail) -> None: ...


@dataclass(frozen=True, slots=True)
class PendingEmail:
    id: str
    email: OutgoingEmail
    attempts: int


class PendingEmailQueue(Protocol):
    """The outbox seen from the delivery side; claims are exclusive across workers."""

    async def claim_due(self, now: datetime, limit: int) -> list[PendingEmail]:
        """Lease up to `limit` unsent emails due by `now` so no other worker takes them."""
        ...

    async def mark_sent(self, email_id: str, now: datetime) -> None: ...

    async def mark_failed(self, email_id: str, retry_at: datetime | None, error: str) -> None:
        """Record a failed try; `retry_at=None` gives up on the email for good."""
        ...


class EmailSender(Protocol):
    async def send(self, email: OutgoingEmail) -> None:
        """Deliver one email; raises on failure so the caller can retry later."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Rolls back on exit unless `commit` was awaited."""

    users: UserRepository
    sessions: SessionRepository
    challenges: ChallengeRepository
    tenants: TenantRepository
    memberships: MembershipRepository
    invitations: InvitationRepository
    api_keys: ApiKeyRepository
    ledger: LedgerRepository
    plans: PlanRepository
    subscriptions: SubscriptionRepository
    payments: PaymentRepository
    oauth: OAuthRepository
    agents: AgentRepository
    agent_configs: AgentConfigRepository
    intentions: IntentionRepository
    leads: LeadRepository
    conversations: ConversationRepository
    messages: MessageRepository
    outbox: Outbox

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...

    def reading(self) -> UnitOfWork:
        """A unit of work for reads only: each statement sees what is committed when it
        runs, with no transaction around them (no BEGIN/ROLLBACK round trips). `commit`
        is refused. For checks whose reads need no common snapshot."""
        ...
