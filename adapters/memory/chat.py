"""In-process conversations and messages, transactional like the other memory repositories."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from application.chat.ports import ConversationRepository, FinalReply, MessageRepository
from domain.chat.models import Conversation, Message, MessageRole, MessageStatus
from domain.errors import AlreadyExists, NotFound


@dataclass
class ChatStore:
    """Committed conversations and messages, each by id."""

    conversations: dict[str, Conversation] = field(default_factory=dict)
    messages: dict[str, Message] = field(default_factory=dict)


@dataclass(slots=True)
class _Counted:
    """Messages a transaction recorded on a conversation, applied as an increment."""

    added: int
    updated_at: datetime


class _Pending:
    """One transaction's writes over a `ChatStore`.

    Message counts are kept as increments and added to the committed value at commit, as the
    SQL `message_count = message_count + n` does, so concurrent turns never lose a count.
    """

    def __init__(self, store: ChatStore) -> None:
        self.store = store
        self.conversations: dict[str, Conversation] = {}
        self.counted: dict[str, _Counted] = {}
        self.messages: dict[str, Message] = {}

    def conversation(self, tenant_id: str, conversation_id: str) -> Conversation | None:
        found = self.conversations.get(conversation_id) or self.store.conversations.get(
            conversation_id
        )
        if found is None or found.tenant_id != tenant_id:
            return None
        found = copy.deepcopy(found)
        counted = self.counted.get(conversation_id)
        if counted is not None:
            found.message_count += counted.added
            found.updated_at = counted.updated_at
        return found

    def all_conversations(self, tenant_id: str) -> list[Conversation]:
        ids = set(self.store.conversations) | set(self.conversations)
        return [c for i in ids if (c := self.conversation(tenant_id, i)) is not None]

    def message(self, tenant_id: str, message_id: str) -> Message | None:
        found = self.messages.get(message_id) or self.store.messages.get(message_id)
        if found is None or found.tenant_id != tenant_id:
            return None
        return copy.deepcopy(found)

    def all_messages(self, tenant_id: str) -> list[Message]:
        ids = set(self.store.messages) | set(self.messages)
        return [m for i in ids if (m := self.message(tenant_id, i)) is not None]

    def check(self) -> None:
        """Refuse a commit whose idempotency keys another transaction took in the meantime
        (the partial unique index), before anything is written."""
        for message in self.messages.values():
            if message.id in self.store.messages or not message.idempotency_key:
                continue
            if _key_holder(self.store.messages.values(), message) is not None:
                raise AlreadyExists("idempotency key already used")

    def apply(self, deleted_tenants: set[str]) -> None:
        store = self.store
        store.conversations.update(self.conversations)
        for conversation_id, counted in self.counted.items():
            stored = store.conversations.get(conversation_id)
            if stored is not None:
                stored.message_count += counted.added
                stored.updated_at = counted.updated_at
        store.messages.update(self.messages)
        if deleted_tenants:
            # ON DELETE CASCADE: tenant → conversations → messages.
            for conversation_id, conversation in list(store.conversations.items()):
                if conversation.tenant_id in deleted_tenants:
                    del store.conversations[conversation_id]
            for message_id, message in list(store.messages.items()):
                if message.conversation_id not in store.conversations:
                    del store.messages[message_id]
        self.conversations.clear()
        self.counted.clear()
        self.messages.clear()


def _key_holder(messages: Iterable[Message], message: Message) -> Message | None:
    """The message other than `message` holding its (tenant, idempotency key), if any."""
    for other in messages:
        if (
            other.id != message.id
            and other.tenant_id == message.tenant_id
            and other.idempotency_key == message.idempotency_key
        ):
            return other
    return None


def _message_order(message: Message) -> tuple[datetime, int, str]:
    # A turn's user and assistant messages can share a timestamp: the question sorts first.
    return (message.created_at, 0 if message.role is MessageRole.USER else 1, message.id)


class InMemoryConversationRepository(ConversationRepository):
    def __init__(self, pending: _Pending) -> None:
        self._pending = pending

    async def add(self, conversation: Conversation) -> None:
        pending = self._pending
        if conversation.id in pending.conversations or conversation.id in (
            pending.store.conversations
        ):
            raise AlreadyExists("conversation already exists")
        pending.conversations[conversation.id] = copy.deepcopy(conversation)

    async def get(self, tenant_id: str, conversation_id: str) -> Conversation | None:
        return self._pending.conversation(tenant_id, conversation_id)

    async def list(
        self, tenant_id: str, agent_id: str, external_user_id: str, offset: int, limit: int
    ) -> tuple[list[Conversation], int]:
        found = [
            c
            for c in self._pending.all_conversations(tenant_id)
            if (not agent_id or c.agent_id == agent_id)
            and (not external_user_id or c.external_user_id == external_user_id)
        ]
        found.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
        return found[offset : offset + limit], len(found)

    async def record_messages(
        self, tenant_id: str, conversation_id: str, added: int, now: datetime
    ) -> None:
        if self._pending.conversation(tenant_id, conversation_id) is None:
            raise NotFound("conversation not found")
        counted = self._pending.counted.get(conversation_id)
        if counted is None:
            self._pending.counted[conversation_id] = _Counted(added, now)
        else:
            counted.added += added
            counted.updated_at = now


class InMemoryMessageRepository(MessageRepository):
    def __init__(self, pending: _Pending) -> None:
        self._pending = pending

    def atomic_turns(self) -> None:
        return None  # one writer at a time already: the generic steps are exact

    async def add(self, message: Message) -> None:
        pending = self._pending
        if pending.conversation(message.tenant_id, message.conversation_id) is None:
            # Where SQL refuses the row by its foreign key.
            raise NotFound("conversation not found")
        if message.id in pending.messages or message.id in pending.store.messages:
            raise AlreadyExists("idempotency key already used")
        if message.idempotency_key and (
            _key_holder(pending.all_messages(message.tenant_id), message) is not None
        ):
            raise AlreadyExists("idempotency key already used")
        pending.messages[message.id] = copy.deepcopy(message)

    async def finish(self, tenant_id: str, message_id: str, reply: FinalReply) -> bool:
        stored = self._pending.message(tenant_id, message_id)
        if stored is None or stored.status is not MessageStatus.PENDING:
            return False
        # Only what the SQL UPDATE writes; the rest of the row stays as stored.
        stored.content = reply.content
        stored.status = reply.status
        stored.credits = reply.credits
        stored.prompt_tokens = reply.prompt_tokens
        stored.completion_tokens = reply.completion_tokens
        stored.error_code = reply.error_code
        if reply.frees_idempotency_key:
            stored.idempotency_key = ""
        self._pending.messages[stored.id] = stored
        return True

    async def stale_pending(self, created_before: datetime, limit: int) -> list[Message]:
        store = self._pending.store
        found = [
            copy.deepcopy(m)
            for m in {**store.messages, **self._pending.messages}.values()
            if m.status is MessageStatus.PENDING and m.created_at < created_before
        ]
        found.sort(key=lambda m: (m.created_at, m.id))
        return found[:limit]

    async def get(self, tenant_id: str, message_id: str) -> Message | None:
        return self._pending.message(tenant_id, message_id)

    async def get_by_idempotency_key(self, tenant_id: str, key: str) -> Message | None:
        if not key:
            return None
        for message in self._pending.all_messages(tenant_id):
            if message.idempotency_key == key:
                return message
        return None

    async def recent(self, tenant_id: str, conversation_id: str, limit: int) -> list[Message]:
        ordered = self._conversation_messages(tenant_id, conversation_id)
        return ordered[-limit:] if limit > 0 else []

    def _conversation_messages(self, tenant_id: str, conversation_id: str) -> list[Message]:
        found = [
            m for m in self._pending.all_messages(tenant_id) if m.conversation_id == conversation_id
        ]
        return sorted(found, key=_message_order)

    async def list(
        self, tenant_id: str, conversation_id: str, offset: int, limit: int
    ) -> tuple[list[Message], int]:
        ordered = self._conversation_messages(tenant_id, conversation_id)
        return ordered[offset : offset + limit], len(ordered)


class InMemoryChat:
    """The chat repositories of one unit of work, applied together at commit."""

    def __init__(self, store: ChatStore) -> None:
        self._pending = _Pending(store)
        self.conversations = InMemoryConversationRepository(self._pending)
        self.messages = InMemoryMessageRepository(self._pending)

    def check(self) -> None:
        self._pending.check()

    def apply(self, deleted_tenants: set[str]) -> None:
        self._pending.apply(deleted_tenants)
