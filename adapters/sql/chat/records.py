"""ORM records of chat conversations and messages, with row mappers for Core statements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Row,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from adapters.sql.base import Base
from domain.chat.models import Conversation, Message, MessageRole, MessageStatus

_ROLES = ", ".join(f"'{role.value}'" for role in MessageRole)
_STATUSES = ", ".join(f"'{status.value}'" for status in MessageStatus)

# Lengths of the free-form strings the chat request carries; validation must keep within them.
EXTERNAL_USER_ID_LENGTH = 255
SOURCE_LENGTH = 255
IDEMPOTENCY_KEY_LENGTH = 255


class ConversationRecord(Base):
    __tablename__ = "chat_conversations"
    __table_args__ = (
        # The target of the messages' (tenant_id, conversation_id) foreign key.
        UniqueConstraint("tenant_id", "id", name="uq_chat_conversations_tenant_id_id"),
        # ListConversations filters by agent and end user, newest activity first.
        Index(
            "ix_chat_conversations_tenant_agent_user_updated",
            "tenant_id",
            "agent_id",
            "external_user_id",
            "updated_at",
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), ForeignKey("tenants.id", ondelete="CASCADE"))
    # No foreign key: an agent may be deleted while its conversation history stays.
    agent_id: Mapped[str] = mapped_column(String(64))
    external_user_id: Mapped[str] = mapped_column(String(EXTERNAL_USER_ID_LENGTH))
    source: Mapped[str] = mapped_column(String(SOURCE_LENGTH))
    message_count: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MessageRecord(Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        CheckConstraint(f"role IN ({_ROLES})", name="role"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        # With the tenant in the key, a message can never belong to another tenant's
        # conversation, and the cascade from a deleted conversation uses the index below.
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"],
            ["chat_conversations.tenant_id", "chat_conversations.id"],
            ondelete="CASCADE",
        ),
        # A conversation's messages in order.
        Index(
            "ix_chat_messages_tenant_id_conversation_id_created_at",
            "tenant_id",
            "conversation_id",
            "created_at",
        ),
        # A retried request finds its stored answer; messages without a key are not indexed.
        Index(
            "uq_chat_messages_tenant_id_idempotency_key",
            "tenant_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key <> ''"),
            sqlite_where=text("idempotency_key <> ''"),
        ),
        # Recovery finds replies left pending by a turn that died; only those are indexed.
        Index(
            "ix_chat_messages_pending_created_at",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Owned through the conversation: a deleted tenant takes its conversations, and they
    # their messages.
    tenant_id: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    credits: Mapped[int] = mapped_column(BigInteger)
    task_id: Mapped[str] = mapped_column(String(64))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    request_hash: Mapped[str] = mapped_column(String(128))
    error_code: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


def conversation_to_row(conversation: Conversation) -> dict[str, object]:
    return {
        "id": conversation.id,
        "tenant_id": conversation.tenant_id,
        "agent_id": conversation.agent_id,
        "external_user_id": conversation.external_user_id,
        "source": conversation.source,
        "message_count": conversation.message_count,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }


def conversation_to_domain(row: Row[Any]) -> Conversation:
    """Map a row selected from the `chat_conversations` table."""
    return Conversation(
        id=row.id,
        tenant_id=row.tenant_id,
        agent_id=row.agent_id,
        external_user_id=row.external_user_id,
        source=row.source,
        message_count=row.message_count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def message_to_row(message: Message) -> dict[str, object]:
    return {
        "id": message.id,
        "tenant_id": message.tenant_id,
        "conversation_id": message.conversation_id,
        "agent_id": message.agent_id,
        "role": message.role.value,
        "content": message.content,
        "status": message.status.value,
        "credits": message.credits,
        "task_id": message.task_id,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "idempotency_key": message.idempotency_key,
        "request_hash": message.request_hash,
        "error_code": message.error_code,
        "created_at": message.created_at,
    }


def message_to_domain(row: Row[Any]) -> Message:
    """Map a row selected from the `chat_messages` table."""
    return Message(
        id=row.id,
        tenant_id=row.tenant_id,
        conversation_id=row.conversation_id,
        agent_id=row.agent_id,
        role=MessageRole(row.role),
        content=row.content,
        status=MessageStatus(row.status),
        credits=row.credits,
        created_at=row.created_at,
        task_id=row.task_id,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        idempotency_key=row.idempotency_key,
        request_hash=row.request_hash,
        error_code=row.error_code,
    )
