"""A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives.

It runs in a thread of the test process, so it cannot outlive the run; `running_mailbox` stops
it even when the test fails.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.peers import free_port

__all__ = ["Mailbox", "ReceivedEmail", "free_port", "running_mailbox"]

# Deadlines, not windows: waits return as soon as the mail is there or the server is up, so
# only a broken relay or server pays for their length (2 busy cores can be slow).
DELIVERED_WITHIN_SECONDS = 30.0
READY_WITHIN_SECONDS = 30.0


@dataclass
class ReceivedEmail:
    to: list[str]
    subject: str
    text: str


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[ReceivedEmail] = field(default_factory=list)

    def for_address(self, address: str) -> list[ReceivedEmail]:
        return [m for m in self.messages if address.lower() in (t.lower() for t in m.to)]

    async def wait_for(
        self, address: str, count: int = 1, within: float = DELIVERED_WITHIN_SECONDS
    ) -> ReceivedEmail:
        """The `count`-th email delivered to `address`, waiting for the relay to send it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            found = self.for_address(address)
            if len(found) >= count:
                return found[count - 1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no email #{count} for {address} within {within}s")

    async def code_for(self, address: str, count: int = 1) -> str:
        email = await self.wait_for(address, count)
        match = re.search(r"\b(\d{6})\b", email.text)
        assert match, f"no 6-digit code in: {email.text!r}"
        return match.group(1)


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed: Message = message_from_bytes(envelope.content, policy=default_policy)
        body = parsed.get_body(preferencelist=("plain",)) if hasattr(parsed, "get_body") else None
        text = body.get_content() if body is not None else parsed.get_payload(decode=False)
        self.mailbox.messages.append(
            ReceivedEmail(
                to=list(envelope.rcpt_tos), subject=str(parsed["Subject"]), text=str(text)
            )
        )
        return "250 OK"


@contextmanager
def running_mailbox() -> Iterator[Mailbox]:
    mailbox = Mailbox(host="127.0.0.1", port=free_port())
    controller = Controller(
        _Handler(mailbox),
        hostname=mailbox.host,
        port=mailbox.port,
        ready_timeout=READY_WITHIN_SECONDS,
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
