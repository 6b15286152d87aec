"""SQL conversation and message repositories, bound to one unit-of-work session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Table, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.sql.billing.allowances import CreditAllowances
from adapters.sql.billing.statements import insert_unless_present, rowcount
from adapters.sql.chat.records import (
    ConversationRecord,
    MessageRecord,
    conversation_to_domain,
    conversation_to_row,
    message_to_domain,
    message_to_row,
)
from adapters.sql.chat.turn_statements import PostgresTurnStatements
from adapters.sql.errors import translate_unavailable
from application.chat.ports import ConversationRepository, FinalReply, MessageRepository
from domain.chat.models import Conversation, Message, MessageRole, MessageStatus
from domain.errors import AlreadyExists, NotFound

# Core tables, not ORM entities, as the ledger does: `record_messages` and `finish` change rows
# with plain UPDATEs, and nothing may then be served stale from an identity map.
_CONVERSATIONS: Table = ConversationRecord.__table__  # type: ignore[assignment]
_MESSAGES: Table = MessageRecord.__table__  # type: ignore[assignment]

# A turn's user and assistant messages can share a timestamp: the question sorts first.
_ROLE_ORDER = case((_MESSAGES.c.role == MessageRole.USER.value, 0), else_=1)

# The two UPDATEs every chat turn runs, built once with bind parameters: building the
# construct again on every call was a visible share of a turn's CPU. (Parameter names differ
# from the column names, which UPDATE reserves for its SET clause.)
_COUNT_MESSAGES = (
    update(_CONVERSATIONS)
    .where(
        _CONVERSATIONS.c.tenant_id == bindparam("b_tenant_id"),
        _CONVERSATIONS.c.id == bindparam("b_id"),
    )
    .values(
        message_count=_CONVERSATIONS.c.message_count + bindparam("b_added"),
        updated_at=bindparam("b_now", type_=_CONVERSATIONS.c.updated_at.type),
    )
)
# The SET clause comes from the execution's column-named parameters. Only a pending reply
# is finished: the first writer (the live turn or recovery) wins, the other changes nothing.
# On SQLite this UPDATE is also the transaction's first write, so it takes the database's
# write lock before anything else of the turn's end is read or written.
_FINISH_MESSAGE = update(_MESSAGES).where(
    _MESSAGES.c.tenant_id == bindparam("b_tenant_id"),
    _MESSAGES.c.id == bindparam("b_id"),
    _MESSAGES.c.status == MessageStatus.PENDING.value,
)


class SqlConversationRepository(ConversationRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @translate_unavailable
    async def add(self, conversation: Conversation) -> None:
        row = conversation_to_row(conversation)
        if not await insert_unless_present(self._session, _CONVERSATIONS, row):
            raise AlreadyExists("conversation already exists")

    @translate_unavailable
    async def get(self, tenant_id: str, conversation_id: str) -> Conversation | None:
        row = (
            await self._session.execute(
                select(_CONVERSATIONS).where(
                    _CONVERSATIONS.c.tenant_id == tenant_id,
                    _CONVERSATIONS.c.id == conversation_id,
                )
            )
        ).first()
        return conversation_to_domain(row) if row is not None else None

    @translate_unavailable
    async def list(
        self, tenant_id: str, agent_id: str, external_user_id: str, offset: int, limit: int
    ) -> tuple[list[Conversation], int]:
        conditions: list[ColumnElement[bool]] = [_CONVERSATIONS.c.tenant_id == tenant_id]
        if agent_id:
            conditions.append(_CONVERSATIONS.c.agent_id == agent_id)
        if external_user_id:
            conditions.append(_CONVERSATIONS.c.external_user_id == external_user_id)
        total = await self._session.scalar(
            select(func.count()).select_from(_CONVERSATIONS).where(*conditions)
        )
        rows = await self._session.execute(
            select(_CONVERSATIONS)
            .where(*conditions)
            .order_by(_CONVERSATIONS.c.updated_at.desc(), _CONVERSATIONS.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return [conversation_to_domain(row) for row in rows], int(total or 0)

    @translate_unavailable
    async def record_messages(
        self, tenant_id: str, conversation_id: str, added: int, now: datetime
    ) -> None:
        # One statement: concurrent turns of the same conversation add up, none is lost.
        params = {"b_tenant_id": tenant_id, "b_id": conversation_id, "b_added": added, "b_now": now}
        result = await self._session.execute(_COUNT_MESSAGES, params)
        if rowcount(result) == 0:
            raise NotFound("conversation not found")


class SqlMessageRepository(MessageRepository):
    def __init__(self, session: AsyncSession, allowances: CreditAllowances | None = None) -> None:
        self._session = session
        self._allowances = allowances

    def atomic_turns(self) -> PostgresTurnStatements | None:
        # As for the ledger: SQLite's single writer serializes the generic steps already.
        bind = self._session.bind
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
            return PostgresTurnStatements(bind, self._allowances)
        return None

    @translate_unavailable
    async def add(self, message: Message) -> None:
        # ON CONFLICT DO NOTHING rather than catching IntegrityError: the transaction stays
        # usable, and a concurrent insert of the same key waits for the other to commit.
        if not await insert_unless_present(self._session, _MESSAGES, message_to_row(message)):
            raise AlreadyExists("idempotency key already used")

    @translate_unavailable
    async def finish(self, tenant_id: str, message_id: str, reply: FinalReply) -> bool:
        values: dict[str, object] = {
            "b_tenant_id": tenant_id,
            "b_id": message_id,
            "content": reply.content,
            "status": reply.status.value,
            "credits": reply.credits,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "error_code": reply.error_code,
        }
        if reply.frees_idempotency_key:
            values["idempotency_key"] = ""
        result = await self._session.execute(_FINISH_MESSAGE, values)
        return rowcount(result) == 1

    @translate_unavailable
    async def stale_pending(self, created_before: datetime, limit: int) -> list[Message]:
        rows = await self._session.execute(
            select(_MESSAGES)
            .where(
                _MESSAGES.c.status == MessageStatus.PENDING.value,
                _MESSAGES.c.created_at < created_before,
            )
            .order_by(_MESSAGES.c.created_at, _MESSAGES.c.id)
            .limit(limit)
        )
        return [message_to_domain(row) for row in rows]

    @translate_unavailable
    async def get(self, tenant_id: str, message_id: str) -> Message | None:
        row = (
            await self._session.execute(
                select(_MESSAGES).where(
                    _MESSAGES.c.tenant_id == tenant_id, _MESSAGES.c.id == message_id
                )
            )
        ).first()
        return message_to_domain(row) if row is not None else None

    @translate_unavailable
    async def get_by_idempotency_key(self, tenant_id: str, key: str) -> Message | None:
        if not key:
            return None  # "" means "no key"; many messages share it
        row = (
            await self._session.execute(
                select(_MESSAGES).where(
                    _MESSAGES.c.tenant_id == tenant_id, _MESSAGES.c.idempotency_key == key
                )
            )
        ).first()
        return message_to_domain(row) if row is not None else None

    @translate_unavailable
    async def recent(self, tenant_id: str, conversation_id: str, limit: int) -> list[Message]:
        rows = await self._session.execute(
            select(_MESSAGES)
            .where(
                _MESSAGES.c.tenant_id == tenant_id,
                _MESSAGES.c.conversation_id == conversation_id,
            )
            .order_by(_MESSAGES.c.created_at.desc(), _ROLE_ORDER.desc(), _MESSAGES.c.id.desc())
            .limit(limit)
        )
        newest_first = [message_to_domain(row) for row in rows]
        newest_first.reverse()
        return newest_first

    @translate_unavailable
    async def list(
        self, tenant_id: str, conversation_id: str, offset: int, limit: int
    ) -> tuple[list[Message], int]:
        conditions = (
            _MESSAGES.c.tenant_id == tenant_id,
            _MESSAGES.c.conversation_id == conversation_id,
        )
        total = await self._session.scalar(
            select(func.count()).select_from(_MESSAGES).where(*conditions)
        )
        rows = await self._session.execute(
            select(_MESSAGES)
            .where(*conditions)
            .order_by(_MESSAGES.c.created_at, _ROLE_ORDER, _MESSAGES.c.id)
            .offset(offset)
            .limit(limit)
        )
        return [message_to_domain(row) for row in rows], int(total or 0)
