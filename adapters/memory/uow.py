"""An in-process unit of work: dict-backed repositories with real commit and rollback."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Generic, Self, TypeVar

from adapters.memory.agents import AgentStore, InMemoryAgents
from adapters.memory.billing import CatalogStore, InMemoryCatalog
from adapters.memory.chat import ChatStore, InMemoryChat
from adapters.memory.ledger import InMemoryLedgerRepository, LedgerStore
from application.billing.payment_ports import PaymentRepository
from application.common.ports import Outbox, OutgoingEmail, UnitOfWork, UnitOfWorkFactory
from application.identity.ports import (
    AccountReader,
    AccountView,
    ChallengeRepository,
    OAuthRepository,
    SessionDirectory,
    SessionRepository,
    UserRepository,
)
from application.tenancy.ports import (
    ApiKeyRepository,
    InvitationRepository,
    MembershipRepository,
    TenantRepository,
)
from domain.billing.payments import EventStatus, LocalCheckout, PaymentEvent
from domain.errors import AlreadyExists, NotFound
from domain.identity.models import Challenge, Session, User
from domain.identity.oauth import LoginCode, OAuthAttempt, OAuthLink, WatiLink
from domain.tenancy.models import ApiKey, Invitation, Membership, Tenant

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class InMemoryStore:
    """The committed state, shared by every unit of work made from it."""

    users: dict[str, User] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    challenges: dict[str, Challenge] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    memberships: dict[tuple[str, str], Membership] = field(default_factory=dict)
    invitations: dict[str, Invitation] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    outbox: list[OutgoingEmail] = field(default_factory=list)
    ledger: LedgerStore = field(default_factory=LedgerStore)
    catalog: CatalogStore = field(default_factory=CatalogStore)
    agents: AgentStore = field(default_factory=AgentStore)
    chat: ChatStore = field(default_factory=ChatStore)
    payment_events: dict[str, PaymentEvent] = field(default_factory=dict)
    checkouts: dict[str, LocalCheckout] = field(default_factory=dict)
    oauth_links: dict[tuple[str, str], OAuthLink] = field(default_factory=dict)
    login_codes: dict[str, LoginCode] = field(default_factory=dict)
    oauth_attempts: dict[str, OAuthAttempt] = field(default_factory=dict)
    wati_links: dict[str, WatiLink] = field(default_factory=dict)


class _Table(Generic[K, V]):
    """One transaction's view of a committed dict: reads fall through, writes stay pending.

    Rows go in and come out as copies, so an entity mutated without `update` never leaks
    into the store — the same behaviour as a database behind explicit mappers.
    """

    def __init__(self, committed: dict[K, V]) -> None:
        self.committed = committed
        self.pending: dict[K, V | None] = {}  # None marks a deletion

    def peek(self, key: K) -> V | None:
        return self.pending[key] if key in self.pending else self.committed.get(key)

    def get(self, key: K) -> V | None:
        return copy.deepcopy(self.peek(key))

    def exists(self, key: K) -> bool:
        return self.peek(key) is not None

    def put(self, key: K, value: V) -> None:
        self.pending[key] = copy.deepcopy(value)

    def remove(self, key: K) -> None:
        self.pending[key] = None

    def where(self, predicate: Callable[[V], bool]) -> list[V]:
        visible = [v for k, v in self.committed.items() if k not in self.pending]
        visible += [v for v in self.pending.values() if v is not None]
        return [copy.deepcopy(v) for v in visible if predicate(v)]

    def deleted_keys(self) -> set[K]:
        return {key for key, value in self.pending.items() if value is None}

    def apply(self) -> None:
        for key, value in self.pending.items():
            if value is None:
                self.committed.pop(key, None)
            else:
                self.committed[key] = value
        self.pending.clear()


class InMemoryPaymentRepository(PaymentRepository):
    def __init__(
        self, events: _Table[str, PaymentEvent], checkouts: _Table[str, LocalCheckout]
    ) -> None:
        self._events = events
        self._checkouts = checkouts

    async def add_event(self, event: PaymentEvent) -> bool:
        if self._events.exists(event.id):
            return False
        self._events.put(event.id, event)
        return True

    async def get_event(self, event_id: str) -> PaymentEvent | None:
        return self._events.get(event_id)

    async def mark_applied(self, event_id: str, now: datetime) -> bool:
        event = self._events.get(event_id)
        if event is None or event.status is not EventStatus.RECEIVED:
            return False
        self._events.put(event_id, replace(event, status=EventStatus.APPLIED, applied_at=now))
        return True

    async def record_failure(
        self, event_id: str, error: str, retry_at: datetime, park_after: int
    ) -> None:
        event = self._events.get(event_id)
        if event is None or event.status is not EventStatus.RECEIVED:
            return
        attempts = event.attempts + 1
        status = EventStatus.PARKED if attempts >= park_after else EventStatus.RECEIVED
        self._events.put(
            event_id,
            replace(
                event, attempts=attempts, last_error=error, next_attempt_at=retry_at, status=status
            ),
        )

    async def events_due(self, now: datetime, limit: int) -> list[PaymentEvent]:
        due = self._events.where(
            lambda e: e.status is EventStatus.RECEIVED and e.next_attempt_at <= now
        )
        return sorted(due, key=lambda e: (e.next_attempt_at, e.id))[:limit]

    async def parked_events(self, limit: int) -> list[PaymentEvent]:
        parked = self._events.where(lambda e: e.status is EventStatus.PARKED)
        return sorted(parked, key=lambda e: (e.received_at, e.id))[:limit]

    async def add_checkout(self, checkout: LocalCheckout) -> bool:
        if self._checkouts.exists(checkout.id):
            return False
        self._checkouts.put(checkout.id, checkout)
        return True

    async def get_checkout(self, checkout_id: str) -> LocalCheckout | None:
        return self._checkouts.get(checkout_id)

    async def close_checkout(self, checkout: LocalCheckout, now: datetime) -> bool:
        stored = self._checkouts.get(checkout.id)
        if stored is None or not stored.is_open(now):
            return False
        self._checkouts.put(checkout.id, replace(stored, status=checkout.status))
        return True


class InMemoryOAuthRepository(OAuthRepository):
    def __init__(
        self,
        links: _Table[tuple[str, str], OAuthLink],
        codes: _Table[str, LoginCode],
        attempts: _Table[str, OAuthAttempt],
        wati_links: _Table[str, WatiLink],
    ) -> None:
        self._links = links
        self._codes = codes
        self._attempts = attempts
        self._wati_links = wati_links

    async def get_link(self, provider: str, subject: str) -> OAuthLink | None:
        return self._links.get((provider, subject))

    async def add_link(self, link: OAuthLink) -> bool:
        if self._links.exists((link.provider, link.subject)):
            return False
        self._links.put((link.provider, link.subject), link)
        return True

    async def add_login_code(self, code: LoginCode) -> None:
        if not self._codes.exists(code.code_hash):
            self._codes.put(code.code_hash, code)

    async def consume_login_code(self, code_hash: str, now: datetime) -> LoginCode | None:
        code = self._codes.get(code_hash)
        if code is None or code.consumed_at is not None or now >= code.expires_at:
            return None
        used = replace(code, consumed_at=now)
        self._codes.put(code_hash, used)
        return used

    async def add_attempt(self, attempt: OAuthAttempt) -> None:
        now = attempt.created_at
        for expired in self._attempts.where(lambda a: a.expires_at <= now):
            self._attempts.remove(expired.state_hash)
        for expired_code in self._codes.where(lambda c: c.expires_at <= now):
            self._codes.remove(expired_code.code_hash)
        self._attempts.put(attempt.state_hash, attempt)

    async def take_attempt(self, state_hash: str, now: datetime) -> OAuthAttempt | None:
        attempt = self._attempts.get(state_hash)
        if attempt is None or now >= attempt.expires_at:
            return None
        self._attempts.remove(state_hash)
        return attempt

    async def save_wati_link(self, link: WatiLink) -> None:
        self._wati_links.put(link.tenant_id, link)

    async def get_wati_link(self, tenant_id: str) -> WatiLink | None:
        return self._wati_links.get(tenant_id)


class InMemoryUserRepository(UserRepository):
    def __init__(
        self,
        users: _Table[str, User],
        sessions: _Table[str, Session],
        memberships: _Table[tuple[str, str], Membership],
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._memberships = memberships

    async def get(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        found = self._users.where(lambda user: user.email == email)
        return found[0] if found else None

    async def add(self, user: User) -> None:
        if self._users.exists(user.id) or await self.get_by_email(user.email):
            raise AlreadyExists("email already registered")
        self._users.put(user.id, user)

    async def update(self, user: User) -> None:
        if self._users.exists(user.id):
            self._users.put(user.id, user)

    async def delete(self, user_id: str) -> None:
        self._users.remove(user_id)
        # Sessions and memberships belong to the user: they go with it (ON DELETE CASCADE).
        for session in self._sessions.where(lambda s: s.user_id == user_id):
            self._sessions.remove(session.id)
        for member in self._memberships.where(lambda m: m.user_id == user_id):
            self._memberships.remove((member.tenant_id, member.user_id))

    def check_unique_emails(self) -> None:
        """Refuse a commit whose new emails another transaction took in the meantime."""
        for user_id, user in self._users.pending.items():
            if user is None:
                continue
            for other in self._users.committed.values():
                if other.id != user_id and other.email == user.email:
                    still_there = self._users.peek(other.id)
                    if still_there is not None and still_there.email == user.email:
                        raise AlreadyExists("email already registered")


class InMemorySessionRepository(SessionRepository):
    def __init__(self, sessions: _Table[str, Session]) -> None:
        self._sessions = sessions

    async def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def add(self, session: Session) -> None:
        if self._sessions.exists(session.id):
            raise AlreadyExists("session already exists")
        self._sessions.put(session.id, session)

    async def update(self, session: Session) -> None:
        if self._sessions.exists(session.id):
            self._sessions.put(session.id, session)

    async def revoke_all_for_user(
        self, user_id: str, now: datetime, *, except_id: str | None = None
    ) -> list[str]:
        revoked: list[str] = []
        live = self._sessions.where(
            lambda s: s.user_id == user_id and s.revoked_at is None and s.id != except_id
        )
        for session in live:
            session.revoke(now)
            self._sessions.put(session.id, session)
            revoked.append(session.id)
        return revoked


class InMemoryChallengeRepository(ChallengeRepository):
    def __init__(self, challenges: _Table[str, Challenge]) -> None:
        self._challenges = challenges

    async def get_by_token_hash(self, token_hash: str) -> Challenge | None:
        found = self._challenges.where(lambda c: c.token_hash == token_hash)
        return found[0] if found else None

    async def add(self, challenge: Challenge) -> None:
        if self._challenges.exists(challenge.id):
            raise AlreadyExists("challenge already exists")
        self._challenges.put(challenge.id, challenge)

    async def update(self, challenge: Challenge) -> None:
        if self._challenges.exists(challenge.id):
            self._challenges.put(challenge.id, challenge)

    async def count_attempt(self, challenge_id: str, now: datetime, max_attempts: int) -> bool:
        challenge = self._challenges.get(challenge_id)
        if challenge is None or not challenge.is_usable(now) or challenge.attempts >= max_attempts:
            return False
        self._challenges.put(challenge_id, replace(challenge, attempts=challenge.attempts + 1))
        return True

    async def consume(self, challenge_id: str, now: datetime) -> bool:
        challenge = self._challenges.get(challenge_id)
        if challenge is None or challenge.consumed_at is not None or now >= challenge.expires_at:
            return False
        self._challenges.put(challenge_id, replace(challenge, consumed_at=now))
        return True


class InMemoryTenantRepository(TenantRepository):
    def __init__(
        self,
        tenants: _Table[str, Tenant],
        memberships: _Table[tuple[str, str], Membership],
        invitations: _Table[str, Invitation],
        api_keys: _Table[str, ApiKey],
    ) -> None:
        self._tenants = tenants
        self._memberships = memberships
        self._invitations = invitations
        self._api_keys = api_keys

    async def get(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    async def lock(self, tenant_id: str) -> None:
        # One event loop, and commits apply atomically: nothing can interleave to lock out.
        return None

    async def add(self, tenant: Tenant) -> None:
        if self._tenants.exists(tenant.id):
            raise AlreadyExists("tenant already exists")
        self._tenants.put(tenant.id, tenant)

    async def update(self, tenant: Tenant) -> None:
        # Like the SQL adapter: updating a row that is gone is an error, not an insert.
        if not self._tenants.exists(tenant.id):
            raise NotFound("tenant not found")
        self._tenants.put(tenant.id, tenant)

    async def delete(self, tenant_id: str) -> None:
        self._tenants.remove(tenant_id)
        # Everything the tenant owns goes with it (ON DELETE CASCADE).
        for member in self._memberships.where(lambda m: m.tenant_id == tenant_id):
            self._memberships.remove((member.tenant_id, member.user_id))
        for invitation in self._invitations.where(lambda i: i.tenant_id == tenant_id):
            self._invitations.remove(invitation.id)
        for key in self._api_keys.where(lambda k: k.tenant_id == tenant_id):
            self._api_keys.remove(key.id)


class InMemoryMembershipRepository(MembershipRepository):
    def __init__(self, memberships: _Table[tuple[str, str], Membership]) -> None:
        self._memberships = memberships

    async def add(self, membership: Membership) -> None:
        key = (membership.tenant_id, membership.user_id)
        if self._memberships.exists(key):
            raise AlreadyExists("already a member of this tenant")
        self._memberships.put(key, membership)

    async def get(self, tenant_id: str, user_id: str) -> Membership | None:
        return self._memberships.get((tenant_id, user_id))

    async def list_for_user(self, user_id: str) -> list[Membership]:
        found = self._memberships.where(lambda m: m.user_id == user_id)
        return sorted(found, key=lambda m: m.created_at)

    async def list_for_tenant(self, tenant_id: str) -> list[Membership]:
        found = self._memberships.where(lambda m: m.tenant_id == tenant_id)
        return sorted(found, key=lambda m: m.created_at)

    async def count_for_tenant(self, tenant_id: str) -> int:
        return len(self._memberships.where(lambda m: m.tenant_id == tenant_id))

    async def update(self, membership: Membership) -> None:
        key = (membership.tenant_id, membership.user_id)
        if not self._memberships.exists(key):
            raise NotFound("member not found")
        self._memberships.put(key, membership)

    async def delete(self, tenant_id: str, user_id: str) -> None:
        self._memberships.remove((tenant_id, user_id))


class InMemoryInvitationRepository(InvitationRepository):
    def __init__(self, invitations: _Table[str, Invitation]) -> None:
        self._invitations = invitations

    async def add(self, invitation: Invitation) -> None:
        if self._invitations.exists(invitation.id) or await self.get_by_token_hash(
            invitation.token_hash
        ):
            raise AlreadyExists("invitation already exists")
        self._invitations.put(invitation.id, invitation)

    async def update(self, invitation: Invitation) -> None:
        stored = self._invitations.peek(invitation.id)
        if stored is None or stored.tenant_id != invitation.tenant_id:
            raise NotFound("invitation not found")
        self._invitations.put(invitation.id, invitation)

    async def get_by_token_hash(self, token_hash: str) -> Invitation | None:
        found = self._invitations.where(lambda i: i.token_hash == token_hash)
        return found[0] if found else None

    async def accept(self, invitation_id: str, now: datetime) -> bool:
        stored = self._invitations.peek(invitation_id)
        if stored is None or not stored.is_pending(now):
            return False
        self._invitations.put(invitation_id, replace(stored, accepted_at=now))
        return True

    async def list_pending_for_email(self, tenant_id: str, email: str) -> list[Invitation]:
        found = self._invitations.where(
            lambda i: (
                i.tenant_id == tenant_id
                and i.email == email
                and i.accepted_at is None
                and i.revoked_at is None
            )
        )
        return sorted(found, key=lambda i: (i.created_at, i.id))

    async def list_for_tenant(self, tenant_id: str) -> list[Invitation]:
        found = self._invitations.where(lambda i: i.tenant_id == tenant_id)
        return sorted(found, key=lambda i: (i.created_at, i.id))


class InMemoryApiKeyRepository(ApiKeyRepository):
    def __init__(self, api_keys: _Table[str, ApiKey]) -> None:
        self._api_keys = api_keys

    async def add(self, key: ApiKey) -> None:
        if self._api_keys.exists(key.id):
            raise AlreadyExists("api key already exists")
        self._api_keys.put(key.id, key)

    async def get(self, key_id: str) -> ApiKey | None:
        return self._api_keys.get(key_id)

    async def get_for_tenant(self, tenant_id: str, key_id: str) -> ApiKey | None:
        key = self._api_keys.get(key_id)
        return key if key is not None and key.tenant_id == tenant_id else None

    async def list_for_tenant(self, tenant_id: str) -> list[ApiKey]:
        found = self._api_keys.where(lambda k: k.tenant_id == tenant_id)
        return sorted(found, key=lambda k: (k.created_at, k.id))

    async def delete(self, tenant_id: str, key_id: str) -> bool:
        if await self.get_for_tenant(tenant_id, key_id) is None:
            return False
        self._api_keys.remove(key_id)
        return True

    async def touch(self, key_id: str, used_at: datetime) -> None:
        key = self._api_keys.get(key_id)
        if key is not None:
            key.last_used_at = used_at
            self._api_keys.put(key_id, key)


class InMemoryOutbox(Outbox):
    def __init__(self) -> None:
        self.pending: list[OutgoingEmail] = []

    async def add(self, email: OutgoingEmail) -> None:
        self.pending.append(email)


class InMemoryUnitOfWork(UnitOfWork):
    """One transaction over an `InMemoryStore`: nothing is visible to others before `commit`.

    Commit applies every pending change in one step with no await in between, so concurrent
    tasks on the same event loop see all of a transaction or none of it.
    """

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._begin()

    def _begin(self) -> None:
        self._users = _Table(self._store.users)
        self._sessions = _Table(self._store.sessions)
        self._challenges = _Table(self._store.challenges)
        self._tenants = _Table(self._store.tenants)
        self._memberships = _Table(self._store.memberships)
        self._invitations = _Table(self._store.invitations)
        self._api_keys = _Table(self._store.api_keys)
        self._outbox = InMemoryOutbox()
        self._user_repository = InMemoryUserRepository(
            self._users, self._sessions, self._memberships
        )
        self.users = self._user_repository
        self.sessions = InMemorySessionRepository(self._sessions)
        self.challenges = InMemoryChallengeRepository(self._challenges)
        self.tenants = InMemoryTenantRepository(
            self._tenants, self._memberships, self._invitations, self._api_keys
        )
        self.memberships = InMemoryMembershipRepository(self._memberships)
        self.invitations = InMemoryInvitationRepository(self._invitations)
        self.api_keys = InMemoryApiKeyRepository(self._api_keys)
        self.outbox = self._outbox
        self._ledger = InMemoryLedgerRepository(self._store.ledger)
        self.ledger = self._ledger
        self._catalog = InMemoryCatalog(self._store.catalog)
        self.plans = self._catalog.plans
        self.subscriptions = self._catalog.subscriptions
        self._payment_events = _Table(self._store.payment_events)
        self._checkouts = _Table(self._store.checkouts)
        self.payments = InMemoryPaymentRepository(self._payment_events, self._checkouts)
        self._oauth_links = _Table(self._store.oauth_links)
        self._login_codes = _Table(self._store.login_codes)
        self._oauth_attempts = _Table(self._store.oauth_attempts)
        self._wati_links = _Table(self._store.wati_links)
        self.oauth = InMemoryOAuthRepository(
            self._oauth_links, self._login_codes, self._oauth_attempts, self._wati_links
        )
        self._agents = InMemoryAgents(self._store.agents)
        self.agents = self._agents.agents
        self.agent_configs = self._agents.agent_configs
        self.intentions = self._agents.intentions
        self.leads = self._agents.leads
        self._chat = InMemoryChat(self._store.chat)
        self.conversations = self._chat.conversations
        self.messages = self._chat.messages

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._begin()  # drops whatever was not committed

    async def commit(self) -> None:
        self._user_repository.check_unique_emails()
        self._agents.check()
        self._chat.check()
        self._ledger.apply()  # checks before writing anything, so it may refuse the commit
        deleted_users = self._users.deleted_keys()
        deleted_tenants = self._tenants.deleted_keys()
        self._tenants.apply()
        self._users.apply()
        self._memberships.apply()
        self._sessions.apply()
        self._challenges.apply()
        self._invitations.apply()
        self._api_keys.apply()
        self._payment_events.apply()
        self._checkouts.apply()
        self._oauth_links.apply()
        self._login_codes.apply()
        self._oauth_attempts.apply()
        self._wati_links.apply()
        self._catalog.apply(deleted_tenants)
        self._agents.apply(deleted_tenants)
        self._chat.apply(deleted_tenants)
        # Rows another transaction added for what we deleted go too, as a cascade would.
        store = self._store
        for session_id, session in list(store.sessions.items()):
            if session.user_id in deleted_users:
                del store.sessions[session_id]
        for key, member in list(store.memberships.items()):
            if member.user_id in deleted_users or member.tenant_id in deleted_tenants:
                del store.memberships[key]
        for invitation_id, invitation in list(store.invitations.items()):
            if invitation.tenant_id in deleted_tenants:
                del store.invitations[invitation_id]
        for key_id, api_key in list(store.api_keys.items()):
            if api_key.tenant_id in deleted_tenants:
                del store.api_keys[key_id]
        for link_key, link in list(store.oauth_links.items()):
            if link.user_id in deleted_users:
                del store.oauth_links[link_key]
        for code_hash, code in list(store.login_codes.items()):
            if code.user_id in deleted_users:
                del store.login_codes[code_hash]
        for tenant_id, wati in list(store.wati_links.items()):
            if wati.tenant_id in deleted_tenants or wati.user_id in deleted_users:
                del store.wati_links[tenant_id]
        ledger = store.ledger
        for grant_id, grant in list(ledger.grants.items()):
            if grant.tenant_id in deleted_tenants:
                del ledger.grants[grant_id]
        for reservation_key, reservation in list(ledger.reservations.items()):
            if reservation.tenant_id in deleted_tenants:
                del ledger.reservations[reservation_key]
        store.outbox.extend(self._outbox.pending)
        self._outbox.pending = []


class InMemoryUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, store: InMemoryStore | None = None) -> None:
        self.store = store if store is not None else InMemoryStore()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    def reading(self) -> InMemoryUnitOfWork:
        # Reads of the committed store; nothing here can write without `commit`.
        return InMemoryUnitOfWork(self.store)


class InMemoryAccountReader(AccountReader):
    """Reads committed users of an `InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def account(self, user_id: str) -> AccountView | None:
        user = self._store.users.get(user_id)
        return AccountView.of(user) if user is not None else None


class InMemorySessionDirectory(SessionDirectory):
    """Committed sessions of an `InMemoryStore`."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def is_open(self, session_id: str) -> bool:
        session = self._store.sessions.get(session_id)
        return session is not None and session.revoked_at is None
