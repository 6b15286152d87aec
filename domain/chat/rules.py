"""Pure rules of a chat turn: request limits, the idempotency fingerprint and history bounds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from domain.chat.models import Message, MessageRole, MessageStatus
from domain.errors import InvalidArgument

MAX_MESSAGE_CHARS = 32_000
MAX_EXTERNAL_USER_ID_CHARS = 255
MAX_IDEMPOTENCY_KEY_CHARS = 255
IDEMPOTENCY_FIELD = "Idempotency-Key"


class ResponseMode(StrEnum):
    BLOCKING = "blocking"
    STREAMING = "streaming"


def parse_response_mode(raw: str) -> ResponseMode:
    """An empty mode is blocking (a missing string field defaults to "", contract §1.3)."""
    value = raw.strip().lower()
    if not value:
        return ResponseMode.BLOCKING
    try:
        return ResponseMode(value)
    except ValueError:
        raise InvalidArgument("response_mode", "must be blocking or streaming") from None


def check_turn_fields(agent_id: str, external_user_id: str, message_content: str) -> None:
    if not agent_id.strip():
        raise InvalidArgument("agent_id", "must not be empty")
    if not external_user_id.strip():
        raise InvalidArgument("external_user_id", "must not be empty")
    if len(external_user_id) > MAX_EXTERNAL_USER_ID_CHARS:
        raise InvalidArgument(
            "external_user_id", f"must be at most {MAX_EXTERNAL_USER_ID_CHARS} characters"
        )
    if not message_content.strip():
        raise InvalidArgument("message_content", "must not be empty")
    if len(message_content) > MAX_MESSAGE_CHARS:
        raise InvalidArgument("message_content", f"must be at most {MAX_MESSAGE_CHARS} characters")


def check_idempotency_key(key: str) -> None:
    if len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidArgument(
            IDEMPOTENCY_FIELD, f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )


def request_hash(
    *,
    agent_id: str,
    external_user_id: str,
    conversation_id: str,
    message_content: str,
    inputs: Mapping[str, Any],
    source: str,
) -> str:
    """sha256 of the canonical JSON of what makes two sends "the same request".

    `response_mode` is left out on purpose: a retry that switches between blocking and
    streaming still gets the stored answer instead of a refusal.
    """
    canonical = json.dumps(
        {
            "agent_id": agent_id,
            "external_user_id": external_user_id,
            "conversation_id": conversation_id,
            "message_content": message_content,
            "inputs": inputs,
            "source": source,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def is_history(message: Message) -> bool:
    """Messages a later prompt may quote: what the user said and replies that were shown."""
    if message.role is MessageRole.USER:
        return message.status is not MessageStatus.PENDING
    return message.status in (MessageStatus.COMPLETED, MessageStatus.ABORTED)


def bounded_history(messages: Sequence[Message], max_chars: int) -> list[Message]:
    """The newest history messages (given oldest first) whose contents fit in `max_chars`.

    Kept oldest first; a message that would overflow the budget ends the walk back in time,
    so the history never has a hole in the middle.
    """
    kept: list[Message] = []
    budget = max_chars
    for message in reversed(messages):
        if not is_history(message) or not message.content:
            continue
        if len(message.content) > budget:
            break
        budget -= len(message.content)
        kept.append(message)
    kept.reverse()
    return kept
