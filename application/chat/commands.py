"""Inputs, outputs and tunables of the chat use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from application.common.caller import Caller
from domain.chat.models import Conversation, Message

DEFAULT_PAGE_LIMIT = 20


@dataclass(frozen=True, slots=True)
class ChatPolicy:
    """Chat tunables, filled from settings by the composition root.

    - `max_turn_seconds` bounds one turn: the model call is stopped after it. The turn's
      credit hold and task registration last `turn_deadline_seconds` (a margin more, for
      the end-of-turn write and its retries); a hold still there after it belongs to a
      turn that died, and recovery finishes it.
    - The concurrency slot is a short lease (`slot_lease_seconds`) renewed every
      `slot_renew_seconds` while the turn runs, so a slot whose release was lost (Redis
      unreachable at that moment, a replica killed) frees itself within the lease.
    """

    credits_per_message: int = 1
    concurrency_per_user: int = 1
    rate_per_tenant_per_minute: int = 600
    history_messages: int = 20
    history_chars: int = 24_000
    max_turn_seconds: int = 300
    turn_margin_seconds: int = 30
    slot_lease_seconds: int = 20

    @property
    def turn_deadline_seconds(self) -> int:
        return self.max_turn_seconds + self.turn_margin_seconds

    @property
    def slot_renew_seconds(self) -> float:
        # Several renewals per lease: one lost to a Redis hiccup does not lose the slot.
        return self.slot_lease_seconds / 4


@dataclass(frozen=True, slots=True)
class ChatTurnRequest:
    """One Chat call (contract §6); `idempotency_key` is the optional header."""

    caller: Caller
    agent_id: str
    external_user_id: str
    message_content: str
    tenant_id: str = ""
    response_mode: str = ""
    conversation_id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class StopChatCommand:
    caller: Caller
    task_id: str
    external_user_id: str


@dataclass(frozen=True, slots=True)
class ListConversationsQuery:
    caller: Caller
    agent_id: str = ""
    external_user_id: str = ""
    page: int = 1
    limit: int = DEFAULT_PAGE_LIMIT


@dataclass(frozen=True, slots=True)
class ListMessagesQuery:
    caller: Caller
    conversation_id: str
    page: int = 1
    limit: int = DEFAULT_PAGE_LIMIT


@dataclass(frozen=True, slots=True)
class ConversationPage:
    conversations: list[Conversation]
    page: int
    limit: int
    total: int


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[Message]
    page: int
    limit: int
    total: int
