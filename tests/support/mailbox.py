"""A real SMTP server (aiosmtpd) on a free loopback port, keeping what it receives."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller


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

    async def wait_for(self, address: str, count: int = 1, within: float = 10.0) -> ReceivedEmail:
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_mailbox() -> Iterator[Mailbox]:
    mailbox = Mailbox(host="127.0.0.1", port=free_port())
    controller = Controller(_Handler(mailbox), hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
