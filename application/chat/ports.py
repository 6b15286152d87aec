"""Ports of the chat area: the model backend, conversations, limits and stop signals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from application.agents.ports import AgentProfile
from domain.chat.models import Conversation, Message, MessageStatus

# ---------------------------------------------------------------- model backend


@dataclass(frozen=True, slots=True)
class PromptMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One completion: the prompt plus the agent it is for (the `local` backend answers from
    the agent's own configuration; `openai` uses model/temperature/max_tokens)."""

    messages: list[PromptMessage]
    model: str
    temperature: float
    max_tokens: int
    profile: AgentProfile | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Completion:
    """The last item of every stream."""

    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"  # "stop" | "length"
    model: str = ""


LLMEvent = TextDelta | Completion


class LLMBackend(Protocol):
    def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        """Yield `TextDelta`s, then exactly one `Completion`.

        Errors: `domain.errors.Unavailable` (server down, timeouts, 5xx/429 after retries —
        only retried before the first byte), `domain.errors.InvalidArgument` with field
        "message_content" when the prompt does not fit the model's context. Closing the
        iterator (aclose / task cancellation) closes the upstream request at once.
        """
        ...


# ---------------------------------------------------------------- persistence


class ConversationRepository(Protocol):
    async def add(self, conversation: Conversation) -> None: ...

    async def get(self, tenant_id: str, conversation_id: str) -> Conversation | None: ...

    async def list(
        self, tenant_id: str, agent_id: str, external_user_id: str, offset: int, limit: int
    ) -> tuple[list[Conversation], int]:
        """Most recently updated first; empty `agent_id` / `external_user_id` = any."""
        ...

    async def record_messages(
        self, tenant_id: str, conversation_id: str, added: int, now: datetime
    ) -> None:
        """message_count += added, updated_at = now (one statement)."""
        ...


@dataclass(frozen=True, slots=True)
class FinalReply:
    """What a finished turn writes onto its pending assistant message; the rest stays."""

    content: str
    status: MessageStatus
    credits: int
    prompt_tokens: int
    completion_tokens: int
    error_code: int = 0
    # A failure a retry may cure frees the Idempotency-Key, so the retry runs the turn again.
    frees_idempotency_key: bool = False


class AtomicTurnOperations(Protocol):
    """A chat turn's start and end each as one statement, for storage that can (PostgreSQL).

    Each call is its own transaction, committed when it returns and all or nothing; it does
    not see, and is not undone with, the caller's unit of work. The due grants must be in
    place (committed) before `start`.
    """

    async def start(
        self,
        new_conversation: Conversation | None,
        user: Message,
        reply: Message,
        reserved: int,
        now: datetime,
        hold_until: datetime,
    ) -> bool:
        """Reserve `reserved` (> 0) credits keyed by the reply's id, held until `hold_until`
        (past it, recovery finishes the turn), then insert the new
        conversation (or count the user message in the existing one) and both messages.

        False, with nothing written, when the usable balance is smaller. The reply's
        idempotency key already used: `AlreadyExists`, nothing written. The existing
        conversation gone: `NotFound`, nothing written.
        """
        ...

    async def finish(
        self,
        tenant_id: str,
        conversation_id: str,
        message_id: str,
        reply: FinalReply,
        now: datetime,
    ) -> int | None:
        """Settle `reply.credits` of the RESERVED reservation keyed `message_id` (0 credits:
        release it), write `reply` onto the message, count it in the
        conversation; returns the tenant's balance at `now` afterwards.

        None, with nothing written, when no such RESERVED reservation exists (the caller's
        generic steps then give the replay or the error).
        """
        ...


class MessageRepository(Protocol):
    def atomic_turns(self) -> AtomicTurnOperations | None:
        """The one-statement turn operations when the storage has them, else None."""
        ...

    async def add(self, message: Message) -> None:
        """Raises `AlreadyExists` when (tenant, idempotency_key) is taken (non-empty keys);
        the transaction stays usable."""
        ...

    async def finish(self, tenant_id: str, message_id: str, reply: FinalReply) -> bool:
        """Write `reply` onto the message in one statement if it is still `pending` (the
        idempotency key is cleared when `reply.frees_idempotency_key`). False, with nothing
        written, when no such pending message exists (missing, another tenant's, or already
        final): whoever moves a reply out of `pending` first owns its accounting, so a late
        live turn and recovery never both finish it."""
        ...

    async def stale_pending(self, created_before: datetime, limit: int) -> list[Message]:
        """Up to `limit` replies of every tenant still `pending` and created before
        `created_before`, oldest first (recovery; no locks)."""
        ...

    async def get(self, tenant_id: str, message_id: str) -> Message | None: ...

    async def get_by_idempotency_key(self, tenant_id: str, key: str) -> Message | None: ...

    async def recent(self, tenant_id: str, conversation_id: str, limit: int) -> list[Message]:
        """The last `limit` messages, returned oldest first (for the prompt history)."""
        ...

    async def list(
        self, tenant_id: str, conversation_id: str, offset: int, limit: int
    ) -> tuple[list[Message], int]:
        """Oldest first (created_at, then role user before assistant, then id)."""
        ...


# ---------------------------------------------------------------- limits and signals


@dataclass(frozen=True, slots=True)
class Lease:
    key: str
    token: str


class ConcurrencyLimiter(Protocol):
    """At most `limit` leases per key at once, shared across replicas (Redis) or one
    process (memory). A lease expires by itself after `ttl_seconds` unless renewed, so a
    crashed replica or a lost release cannot hold a slot for long. Redis unreachable →
    `domain.errors.Unavailable`."""

    async def acquire(self, key: str, limit: int, ttl_seconds: int) -> Lease | None:
        """None when the key is at its limit."""
        ...

    async def renew(self, lease: Lease, ttl_seconds: int) -> bool:
        """Push the lease's expiry to `ttl_seconds` from now; False when it already expired
        or was released (it is then not taken back)."""
        ...

    async def release(self, lease: Lease) -> None: ...


@dataclass(frozen=True, slots=True)
class RunningTask:
    task_id: str
    tenant_id: str
    external_user_id: str


@dataclass(slots=True)
class StopWatch:
    """Set when someone asked (from any replica) to stop the task."""

    task_id: str
    stopped: asyncio.Event = field(default_factory=asyncio.Event)


class TaskRegistry(Protocol):
    """Which chat turns are running, and a way to stop one from any replica."""

    async def start(self, task: RunningTask, ttl_seconds: int) -> StopWatch:
        """Register the task and return the watch that `request_stop` sets."""
        ...

    async def finish(self, watch: StopWatch) -> None:
        """Unregister; the watch is no longer set by later stop requests."""
        ...

    async def get(self, task_id: str) -> RunningTask | None: ...

    async def request_stop(self, task_id: str) -> None:
        """Ask the replica running the task to stop it (within a second)."""
        ...


@dataclass(frozen=True, slots=True)
class TurnLimits:
    """What a chat turn must get before it runs: a concurrency slot of the end user, a hit
    on the tenant's rate limit, and its registration as a running task."""

    slot_key: str
    slots: int
    lease_seconds: int
    rate_key: str
    rate_limit: int
    rate_window_seconds: int
    task: RunningTask
    task_ttl_seconds: int


@dataclass(frozen=True, slots=True)
class TurnPass:
    lease: Lease
    watch: StopWatch


@dataclass(frozen=True, slots=True)
class TurnRefusal:
    """`slot_taken`: the end user's slots are all in use; else the tenant's rate limit is
    spent for `retry_after` seconds. Nothing was taken."""

    slot_taken: bool
    retry_after: int = 1


class TurnGate(Protocol):
    """The limits of a turn taken all at once, and given back all at once.

    Redis does each in one round trip (a script to enter, a pipeline to leave); the
    in-process version takes the steps one after the other. Redis unreachable →
    `domain.errors.Unavailable`, with nothing held.
    """

    async def enter(self, limits: TurnLimits) -> TurnPass | TurnRefusal: ...

    async def leave(self, passed: TurnPass) -> None:
        """Free the slot and unregister the task. A failure raises `Unavailable`; the slot
        and the registration then expire by themselves."""
        ...


class ChatMetrics(Protocol):
    """What operators count about chat turns (their metrics adapter decides how)."""

    def turn_ended(self, status: MessageStatus, credits_debited: int, error_code: int) -> None:
        """A turn this process ran was accounted: its reply status, the credits it debited
        and, when the model call failed, the contract code it failed with (0: none)."""
        ...


class NoChatMetrics:
    """Counts nothing (the default)."""

    def turn_ended(self, status: MessageStatus, credits_debited: int, error_code: int) -> None:
        return None
