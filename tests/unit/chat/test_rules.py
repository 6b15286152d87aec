"""Pure chat rules: the idempotency fingerprint and the bounded history."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.chat.models import Message, MessageRole, MessageStatus
from domain.chat.rules import bounded_history, request_hash

BASE = {
    "agent_id": "a",
    "external_user_id": "u",
    "conversation_id": "",
    "message_content": "hi",
    "inputs": {"x": 1, "y": [1, 2]},
    "source": "web",
}


def test_the_fingerprint_ignores_key_order_but_not_content() -> None:
    same = request_hash(**{**BASE, "inputs": {"y": [1, 2], "x": 1}})  # type: ignore[arg-type]
    assert request_hash(**BASE) == same  # type: ignore[arg-type]
    assert request_hash(**{**BASE, "message_content": "hi!"}) != same  # type: ignore[arg-type]


def message(content: str, role: MessageRole, status: MessageStatus) -> Message:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Message("id", "t", "c", "a", role, content, status, 0, now)


def test_history_keeps_the_newest_messages_that_fit_without_holes() -> None:
    user, assistant = MessageRole.USER, MessageRole.ASSISTANT
    done = MessageStatus.COMPLETED
    messages = [
        message("old question", user, done),
        message("x" * 50, assistant, done),
        message("failed", assistant, MessageStatus.FAILED),
        message("recent", user, done),
        message("stopped", assistant, MessageStatus.ABORTED),
    ]
    kept = [m.content for m in bounded_history(messages, max_chars=20)]
    assert kept == ["recent", "stopped"]
    everything = [m.content for m in bounded_history(messages, max_chars=1000)]
    assert everything == ["old question", "x" * 50, "recent", "stopped"]
