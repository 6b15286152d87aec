"""PostgreSQL: a chat turn's start and end as one autocommit statement each (one round trip)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.billing.allowances import (
    INSERT_FROM_ALLOWANCE,
    OTHERS_FREE_SQL,
    CreditAllowances,
)
from adapters.sql.billing.ledger_sql import INSERT_RESERVATION, RESERVE_CTES, RESOLVE_CTES
from adapters.sql.chat.records import conversation_to_row, message_to_row
from adapters.sql.errors import translate_unavailable
from application.chat.ports import AtomicTurnOperations, FinalReply
from domain.chat.models import Conversation, Message
from domain.errors import AlreadyExists, NotFound

_UNIQUE_VIOLATION = "23505"
_FOREIGN_KEY_VIOLATION = "23503"

_MESSAGE_COLUMNS = (
    "id, tenant_id, conversation_id, agent_id, role, content, status, credits, task_id, "
    "prompt_tokens, completion_tokens, idempotency_key, request_hash, error_code, created_at"
)


# Parameters in a SELECT list get no type from the target columns: cast the non-text ones.
_CASTS = {
    "credits": "bigint",
    "prompt_tokens": "integer",
    "completion_tokens": "integer",
    "error_code": "integer",
    "created_at": "timestamptz",
}


def _values(prefix: str) -> str:
    names = (name.strip() for name in _MESSAGE_COLUMNS.split(","))
    return ", ".join(
        f"CAST(:{prefix}_{name} AS {_CASTS[name]})" if name in _CASTS else f":{prefix}_{name}"
        for name in names
    )


# The reserve of `adapters/sql/billing/ledger_atomic.py::_RESERVE` (grants locked in
# consumption order, the new `remaining` computed from the locked value), then every other
# write made to depend on its result: short of credits, `res` is empty and nothing at all is
# written. Reading `res` also orders the locks: the tenant's grants first, then the
# conversation row — the order `_FINISH` takes them in, so a start and an end cannot deadlock.
# A used idempotency key fails the whole statement (unique violation: nothing written, so
# nothing charged); a conversation gone fails it too (the messages' foreign key).
_RESERVE_PART = RESERVE_CTES + ",\nres AS (\n" + INSERT_RESERVATION + "  RETURNING key),\n"
# The same with the credits taken from an allowance: the turn's own row only.
_ALLOWANCE_PART = "WITH res AS (\n" + INSERT_FROM_ALLOWANCE + "  RETURNING key),\n"

_NEW_CONVERSATION_PART = """
conv AS (
  INSERT INTO chat_conversations
    (id, tenant_id, agent_id, external_user_id, source, message_count, created_at, updated_at)
  SELECT :c_id, :c_tenant_id, :c_agent_id, :c_external_user_id, :c_source,
    CAST(:c_message_count AS bigint), CAST(:c_created_at AS timestamptz),
    CAST(:c_updated_at AS timestamptz)
  FROM res
  RETURNING id),
"""

# The user message is visible (and counted) at once; the reply when final.
_EXISTING_CONVERSATION_PART = """
conv AS (
  UPDATE chat_conversations SET message_count = message_count + 1, updated_at = :now
  WHERE tenant_id = :tenant_id AND id = :conversation_id AND EXISTS (SELECT 1 FROM res)
  RETURNING id),
"""

# Built from the constant column list above only, never from input.
_MESSAGES_PART = f"""
msgs AS (
  INSERT INTO chat_messages ({_MESSAGE_COLUMNS})
  SELECT {_values("u")} FROM res WHERE (SELECT count(*) FROM conv) >= 0
  UNION ALL
  SELECT {_values("r")} FROM res WHERE (SELECT count(*) FROM conv) >= 0
  RETURNING id)
SELECT (SELECT count(*) FROM res) AS reserved, (SELECT count(*) FROM msgs) AS stored
"""  # noqa: S608

_START_NEW = text(_RESERVE_PART + _NEW_CONVERSATION_PART + _MESSAGES_PART)
_START_EXISTING = text(_RESERVE_PART + _EXISTING_CONVERSATION_PART + _MESSAGES_PART)
_START_NEW_FROM_ALLOWANCE = text(_ALLOWANCE_PART + _NEW_CONVERSATION_PART + _MESSAGES_PART)
_START_EXISTING_FROM_ALLOWANCE = text(
    _ALLOWANCE_PART + _EXISTING_CONVERSATION_PART + _MESSAGES_PART
)

# `adapters/sql/billing/ledger_atomic.py::_RESOLVE` (the reservation row first, then the grants
# in consumption order), then the reply and the conversation count, both depending on it: no
# RESERVED reservation, nothing written. The balance is read in the same statement; its
# snapshot predates the statement's own give-back, so the given-back rows count with their
# new value.
# Concatenated from constant SQL only, never from input.
_FINISH = text(
    RESOLVE_CTES  # noqa: S608
    + """,
msg AS (
  UPDATE chat_messages SET content = :content, status = :m_status, credits = :credits,
    prompt_tokens = :prompt_tokens, completion_tokens = :completion_tokens,
    error_code = :error_code,
    idempotency_key = CASE WHEN :frees_key THEN '' ELSE idempotency_key END
  WHERE tenant_id = :tenant_id AND id = :key
    AND EXISTS (SELECT 1 FROM r) AND (SELECT count(*) FROM given) >= 0
  RETURNING id),
conv AS (
  UPDATE chat_conversations SET message_count = message_count + 1, updated_at = :now
  WHERE tenant_id = :tenant_id AND id = :conversation_id AND EXISTS (SELECT 1 FROM msg)
  RETURNING id)
SELECT (SELECT count(*) FROM r) AS resolved, (SELECT count(*) FROM conv) AS counted,
  (SELECT allowance_key FROM r) AS allowance_key,
  (SELECT amount - settled_amount FROM r) AS unspent,
  (SELECT coalesce(sum(coalesce(gv.remaining, g.remaining)), 0)
   FROM credit_grants g LEFT JOIN given gv ON gv.id = g.id
   WHERE g.tenant_id = :tenant_id AND g.starts_at <= :now AND g.expires_at > :now)
  + """
    + OTHERS_FREE_SQL.format(tenant=":tenant_id")
    + """ AS balance
"""
)


class PostgresTurnStatements(AtomicTurnOperations):
    """Each call: one statement on a pool connection in autocommit. The grant row locks end
    inside the server with the statement, not a client round trip later."""

    def __init__(self, engine: AsyncEngine, allowances: CreditAllowances | None = None) -> None:
        self._engine = engine
        self._allowances = allowances

    async def _run(self, statement: TextClause, params: dict[str, Any]) -> Row[Any]:
        async with self._engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            return (await connection.execute(statement, params)).one()

    @translate_unavailable
    async def start(
        self,
        new_conversation: Conversation | None,
        user: Message,
        reply: Message,
        reserved: int,
        now: datetime,
        hold_until: datetime,
    ) -> bool:
        params: dict[str, Any] = {
            "tenant_id": reply.tenant_id,
            "n": reserved,
            "key": reply.id,
            "agent_id": reply.agent_id,
            "now": now,
            "hold_until": hold_until,
            "conversation_id": reply.conversation_id,
        }
        params.update({f"u_{k}": v for k, v in message_to_row(user).items()})
        params.update({f"r_{k}": v for k, v in message_to_row(reply).items()})
        allowances = self._allowances
        allowance = None
        if allowances is not None:
            allowance = await allowances.take(reply.tenant_id, reply.id, reserved, now)
        statement = _START_EXISTING if allowance is None else _START_EXISTING_FROM_ALLOWANCE
        if new_conversation is not None:
            statement = _START_NEW if allowance is None else _START_NEW_FROM_ALLOWANCE
            params.update({f"c_{k}": v for k, v in conversation_to_row(new_conversation).items()})
        try:
            if allowances is None or allowance is None:
                row = await self._run(statement, params)
            else:
                params["allowance_key"] = allowance
                write = self._run(statement, params)
                row = await allowances.spend(allowance, reply.id, reserved, write)
        except IntegrityError as error:
            code = getattr(error.orig, "pgcode", None)
            if code == _UNIQUE_VIOLATION:
                raise AlreadyExists("idempotency key already used") from error
            if code == _FOREIGN_KEY_VIOLATION:
                raise NotFound("conversation not found") from error
            raise
        return bool(row.reserved)

    @translate_unavailable
    async def finish(
        self,
        tenant_id: str,
        conversation_id: str,
        message_id: str,
        reply: FinalReply,
        now: datetime,
    ) -> int | None:
        settled = reply.credits > 0
        params: dict[str, Any] = {
            "tenant_id": tenant_id,
            "conversation_id": conversation_id,
            "key": message_id,
            "status": "SETTLED" if settled else "RELEASED",
            "spend": reply.credits,
            "now": now,
            "content": reply.content,
            "m_status": reply.status.value,
            "credits": reply.credits,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "error_code": reply.error_code,
            "frees_key": reply.frees_idempotency_key,
        }
        allowances = self._allowances
        own = [] if allowances is None else allowances.own(tenant_id)
        params["own_allowances"] = [allowance.key for allowance in own]
        row = await self._run(_FINISH, params)
        if not row.resolved:
            return None
        if not row.counted:  # pragma: no cover - the message and conversation left with it
            raise NotFound("message not found")
        if allowances is None:
            return int(row.balance)
        if row.allowance_key is not None:
            await allowances.returned(row.allowance_key, message_id, int(row.unspent), now)
        return int(row.balance) + allowances.free_of(own)
