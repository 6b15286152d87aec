"""EmailRelay's loop (wake-ups, polling, surviving failures, stopping) and LogEmailSender."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import pytest

from adapters.email import EmailRelay, LogEmailSender
from application.common.ports import OutgoingEmail
from tests.support.waiting import DEADLINE_SECONDS


class ScriptedDeliver:
    """Counts rounds; each round pops the next scripted outcome (an int sent, or an error)."""

    def __init__(self, *outcomes: int | Exception) -> None:
        self.outcomes = list(outcomes)
        self.rounds = 0

    async def __call__(self) -> int:
        self.rounds += 1
        outcome = self.outcomes.pop(0) if self.outcomes else 0
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def wait_until(condition: Callable[[], bool], within: float = DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_first_round_runs_on_start_then_sleeps_until_woken() -> None:
    deliver = ScriptedDeliver()
    relay = EmailRelay(deliver, poll_interval=60)
    relay.start()
    try:
        await wait_until(lambda: deliver.rounds == 1)
        await asyncio.sleep(0.05)
        assert deliver.rounds == 1
        relay.wake()
        await wait_until(lambda: deliver.rounds == 2)
    finally:
        await relay.stop()


async def test_polls_without_being_woken() -> None:
    deliver = ScriptedDeliver()
    relay = EmailRelay(deliver, poll_interval=0.05)
    relay.start()
    try:
        await wait_until(lambda: deliver.rounds >= 3)
    finally:
        await relay.stop()


async def test_keeps_draining_while_rounds_send_something() -> None:
    deliver = ScriptedDeliver(20, 20, 3)
    relay = EmailRelay(deliver, poll_interval=60)
    relay.start()
    try:
        await wait_until(lambda: deliver.rounds == 4)  # 20, 20, 3, then an empty round
        await asyncio.sleep(0.05)
        assert deliver.rounds == 4
    finally:
        await relay.stop()


async def test_a_failing_round_is_logged_and_the_loop_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deliver = ScriptedDeliver(RuntimeError("database is down"), 1)
    relay = EmailRelay(deliver, poll_interval=60)
    with caplog.at_level(logging.ERROR, logger="astra.email"):
        relay.start()
        try:
            await wait_until(lambda: deliver.rounds == 1)
            relay.wake()
            await wait_until(lambda: deliver.rounds == 3)  # 1 sent, then an empty round
            assert relay.running
        finally:
            await relay.stop()
    assert "email delivery round failed" in caplog.text
    assert "database is down" in caplog.text


async def test_stop_cancels_a_round_in_progress_and_is_idempotent() -> None:
    started = asyncio.Event()

    async def slow_deliver() -> int:
        started.set()
        await asyncio.sleep(60)
        return 0

    relay = EmailRelay(slow_deliver, poll_interval=60)
    relay.start()
    await asyncio.wait_for(started.wait(), DEADLINE_SECONDS)
    # Bounded rather than instant: stop cancels the round instead of waiting out its 60 s.
    await asyncio.wait_for(relay.stop(), 10)
    assert not relay.running
    await relay.stop()


async def test_start_twice_runs_one_loop() -> None:
    deliver = ScriptedDeliver()
    relay = EmailRelay(deliver, poll_interval=60)
    relay.start()
    relay.start()
    try:
        await wait_until(lambda: deliver.rounds >= 1)
        await asyncio.sleep(0.05)
        assert deliver.rounds == 1
    finally:
        await relay.stop()


async def test_wake_from_another_thread_triggers_a_round() -> None:
    deliver = ScriptedDeliver()
    relay = EmailRelay(deliver, poll_interval=60)
    relay.start()
    try:
        await wait_until(lambda: deliver.rounds == 1)
        await asyncio.sleep(0.02)
        thread = threading.Thread(target=relay.wake)
        thread.start()
        thread.join()
        await wait_until(lambda: deliver.rounds == 2)
    finally:
        await relay.stop()


async def test_wake_before_start_is_harmless() -> None:
    relay = EmailRelay(ScriptedDeliver(), poll_interval=60)
    relay.wake()
    await relay.stop()


async def test_log_sender_logs_recipient_subject_and_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    email = OutgoingEmail(to="dev@example.com", subject="Your code", text="Code: 424242")
    with caplog.at_level(logging.INFO, logger="astra.email"):
        await LogEmailSender().send(email)
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.name == "astra.email"
    assert "dev@example.com" in record.getMessage()
    assert "Your code" in record.getMessage()
    assert "Code: 424242" in record.getMessage()
