"""Chat: conversations between an agent and one end user, and their messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    PENDING = "pending"  # the assistant reply is being produced (never shown as final)
    COMPLETED = "completed"
    ABORTED = "aborted"
    FAILED = "failed"


@dataclass(slots=True)
class Conversation:
    id: str
    tenant_id: str
    agent_id: str
    external_user_id: str
    source: str
    message_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Message:
    """One message; an assistant message also records its turn's task and charge.

    `idempotency_key`/`request_hash` are set on the assistant message of a turn sent with an
    `Idempotency-Key` header: unique per (tenant, key), so a retry finds the stored answer.
    """

    id: str
    tenant_id: str
    conversation_id: str
    agent_id: str
    role: MessageRole
    content: str
    status: MessageStatus
    credits: int
    created_at: datetime
    task_id: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    idempotency_key: str = ""
    request_hash: str = ""
    error_code: int = 0
