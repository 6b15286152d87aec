"""HTTP request and response bodies of the chat endpoints (contract §6)."""

from __future__ import annotations

from typing import Any

import msgspec

from application.chat.turn import ChatTurn, TurnUsage
from domain.chat.models import Conversation, Message
from entrypoints.http.conventions import Page, i64, timestamp


class ChatRequest(msgspec.Struct):
    agent_id: str = ""
    external_user_id: str = ""
    tenant_id: str = ""
    message_content: str = ""
    response_mode: str = ""
    conversation_id: str = ""
    inputs: dict[str, Any] | None = None
    source: str = ""


class UsageBody(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    latency: float  # seconds

    @classmethod
    def of(cls, usage: TurnUsage) -> UsageBody:
        return cls(
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            round(usage.latency, 3),
        )


class CreditsBody(msgspec.Struct):
    debited: str
    balance: str


class MetadataBody(msgspec.Struct):
    usage: UsageBody
    credits: CreditsBody

    @classmethod
    def of(cls, usage: TurnUsage, debited: int, balance: int) -> MetadataBody:
        return cls(UsageBody.of(usage), CreditsBody(i64(debited), i64(balance)))


def unix_seconds(turn: ChatTurn) -> int:
    """Dify's `created_at`: unix seconds (contract §6), unlike RFC 3339 elsewhere."""
    return int(turn.created_at.timestamp())


class BlockingChatResponse(msgspec.Struct):
    event: str
    task_id: str
    id: str
    message_id: str
    conversation_id: str
    mode: str
    answer: str
    metadata: MetadataBody
    created_at: int


class MessageEvent(msgspec.Struct):
    event: str
    task_id: str
    id: str
    message_id: str
    conversation_id: str
    answer: str
    created_at: int


class MessageEndEvent(msgspec.Struct):
    event: str
    task_id: str
    id: str
    message_id: str
    conversation_id: str
    metadata: MetadataBody
    created_at: int


class ErrorEvent(msgspec.Struct):
    event: str
    task_id: str
    id: str
    message_id: str
    conversation_id: str
    created_at: int
    status: int
    code: int
    message: str


class StopChatRequest(msgspec.Struct):
    external_user_id: str = ""


class StopChatResponse(msgspec.Struct):
    result: str


class ConversationBody(msgspec.Struct):
    id: str
    agent_id: str
    external_user_id: str
    source: str
    message_count: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationBody:
        return cls(
            id=conversation.id,
            agent_id=conversation.agent_id,
            external_user_id=conversation.external_user_id,
            source=conversation.source,
            message_count=i64(conversation.message_count),
            created_at=timestamp(conversation.created_at),
            updated_at=timestamp(conversation.updated_at),
        )


class ConversationListResponse(msgspec.Struct):
    conversations: list[ConversationBody]
    page: Page


class MessageBody(msgspec.Struct):
    id: str
    role: str
    content: str
    status: str
    credits: str
    created_at: str

    @classmethod
    def of(cls, message: Message) -> MessageBody:
        return cls(
            id=message.id,
            role=message.role.value,
            content=message.content,
            status=message.status.value,
            credits=i64(message.credits),
            created_at=timestamp(message.created_at),
        )


class MessageListResponse(msgspec.Struct):
    messages: list[MessageBody]
    page: Page
