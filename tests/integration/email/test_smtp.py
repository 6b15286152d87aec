"""SmtpEmailSender and the outbox relay against a real in-process SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller

from adapters.email import EmailRelay, SmtpEmailSender
from adapters.security import SystemClock
from application.common.email_delivery import DeliverPendingEmails
from application.common.ports import OutgoingEmail, PendingEmail, PendingEmailQueue
from tests.support.waiting import DEADLINE_SECONDS, eventually

SENDER = "Astra <no-reply@astra.test>"


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    message: EmailMessage


class CollectingHandler:
    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    port: int
    handler: CollectingHandler

    async def wait_for(self, count: int, within: float = DEADLINE_SECONDS) -> list[Received]:
        await eventually(
            lambda: len(self.handler.received) >= count,
            f"{count} emails arriving",
            within,
        )
        return self.handler.received


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(port, handler)
    finally:
        controller.stop()


def make_sender(port: int, **overrides: Any) -> SmtpEmailSender:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "",
        "password": "",
        "starttls": False,
        "sender": SENDER,
        "timeout": 2,
    }
    options.update(overrides)
    return SmtpEmailSender(**options)


async def test_message_arrives_with_recipient_subject_and_body(smtp_server: SmtpServer) -> None:
    email = OutgoingEmail(
        to="alice@example.com", subject="Your Astra code", text="Your code is 123456.\nBye."
    )
    await make_sender(smtp_server.port).send(email)
    [received] = await smtp_server.wait_for(1)
    assert received.recipients == ["alice@example.com"]
    assert received.mail_from == "no-reply@astra.test"
    assert received.message["Subject"] == "Your Astra code"
    assert received.message["To"] == "alice@example.com"
    assert received.message["From"] == SENDER
    assert received.message["Message-ID"].endswith("@astra.test>")
    assert received.message["Date"]
    body = received.message.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n").strip() == "Your code is 123456.\nBye."


async def test_non_ascii_subject_and_body_survive(smtp_server: SmtpServer) -> None:
    email = OutgoingEmail(to="bob@example.com", subject="Código — ünïcode", text="Olá, 你好")
    await make_sender(smtp_server.port).send(email)
    [received] = await smtp_server.wait_for(1)
    assert received.message["Subject"] == "Código — ünïcode"
    body = received.message.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Olá, 你好"


async def test_a_list_of_addresses_cannot_add_recipients(smtp_server: SmtpServer) -> None:
    email = OutgoingEmail(to="a@example.com, b@example.com", subject="s", text="t")
    with pytest.raises(ValueError):
        await make_sender(smtp_server.port).send(email)
    # Instead of waiting a while for nothing: whatever the refused send could have delivered
    # was handled before it returned, so once a later email is there, nothing else came.
    probe = OutgoingEmail(to="probe@example.com", subject="s", text="t")
    await make_sender(smtp_server.port).send(probe)
    [received] = await smtp_server.wait_for(1)
    assert received.recipients == ["probe@example.com"]


async def test_unreachable_server_raises() -> None:
    sender = make_sender(free_port(), timeout=1)
    with pytest.raises(aiosmtplib.SMTPException):
        await sender.send(OutgoingEmail(to="a@example.com", subject="s", text="t"))


async def test_required_starttls_fails_against_a_server_without_it(
    smtp_server: SmtpServer,
) -> None:
    sender = make_sender(smtp_server.port, starttls=True)
    with pytest.raises(aiosmtplib.SMTPException):
        await sender.send(OutgoingEmail(to="a@example.com", subject="s", text="t"))
    assert smtp_server.handler.received == []


@dataclass
class InMemoryQueue(PendingEmailQueue):
    """The outbox as the relay sees it, minus the database."""

    waiting: list[PendingEmail] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, datetime | None, str]] = field(default_factory=list)
    claims: int = 0

    async def claim_due(self, now: datetime, limit: int) -> list[PendingEmail]:
        self.claims += 1
        batch, self.waiting = self.waiting[:limit], self.waiting[limit:]
        return batch

    async def mark_sent(self, email_id: str, now: datetime) -> None:
        self.sent.append(email_id)

    async def mark_failed(self, email_id: str, retry_at: datetime | None, error: str) -> None:
        self.failed.append((email_id, retry_at, error))


async def test_relay_delivers_queued_email_after_wake(smtp_server: SmtpServer) -> None:
    queue = InMemoryQueue()
    deliver = DeliverPendingEmails(queue, make_sender(smtp_server.port), SystemClock())
    relay = EmailRelay(deliver, poll_interval=60)
    relay.start()
    try:
        # The first round finds nothing (then the relay sleeps for its 60 s poll interval).
        await eventually(lambda: queue.claims == 1, "the relay's first round")
        email = OutgoingEmail(to="carol@example.com", subject="Welcome", text="code 654321")
        queue.waiting.append(PendingEmail(id="e1", email=email, attempts=0))
        relay.wake()
        [received] = await smtp_server.wait_for(1)
        assert received.recipients == ["carol@example.com"]
        assert "654321" in received.message.get_content()
        # The server has it before the relay hears back and records it: wait for that.
        await eventually(lambda: queue.sent == ["e1"], "the relay recording the delivery")
    finally:
        await relay.stop()


async def test_relay_records_failure_when_smtp_is_down() -> None:
    queue = InMemoryQueue()
    email = OutgoingEmail(to="dave@example.com", subject="s", text="t")
    queue.waiting.append(PendingEmail(id="e2", email=email, attempts=0))
    clock = SystemClock()
    deliver = DeliverPendingEmails(queue, make_sender(free_port(), timeout=1), clock)
    relay = EmailRelay(deliver, poll_interval=60)
    before = datetime.now(UTC)
    relay.start()
    try:
        await eventually(lambda: bool(queue.failed), "the relay recording the failure")
    finally:
        await relay.stop()
    [(email_id, retry_at, error)] = queue.failed
    assert email_id == "e2"
    assert retry_at is not None
    assert retry_at > before
    assert error.startswith("SMTPConnectError")
