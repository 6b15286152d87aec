"""Per-test timeouts that end a hung async test by cancelling it (a pytest plugin).

pytest-timeout's `signal` method raises `Failed` from the SIGALRM handler wherever the main
thread is. For a sync test that unwinds the test and runs every `finally`. For an async test the
main thread sits in the event loop's `select()`: the exception leaves the loop, the test's task
stays pending in the session's loop (and may resume during a later test), and the test's own
`finally` / `async with` exits never run. So, for an async test, the first alarm cancels the
test's task instead: its cleanup runs as it would on any cancellation, and the test fails as a
timeout. If the test swallows the cancellation, blocks in sync code, or the alarm comes during a
fixture, the second alarm (`GRACE_SECONDS` later) or the first one does what pytest-timeout
always does: dump the stacks and raise.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
from collections.abc import Generator
from types import FrameType
from typing import Any

import pytest

# How long a cancelled test gets to unwind (its cleanup awaits) before the plain timeout.
GRACE_SECONDS = 10.0
# Set, to the timeout, on a test whose task the alarm cancelled.
_cancelled_after = pytest.StashKey[float]()


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Generator[None, object, object]:
    installed = yield

    default = signal.getsignal(signal.SIGALRM)
    test = _test_function(item)
    if settings.method != "signal" or test is None or not callable(default):
        return installed

    def cancel_the_test_first(signum: int, frame: FrameType | None) -> None:
        task = None if _cancelled_after in item.stash else _running_test_task(test)
        # The test's task itself running means it blocks in sync code, which a cancellation
        # would never reach: only raising here ends it.
        if task is None or asyncio.current_task(task.get_loop()) is task:
            default(signum, frame)  # pytest-timeout's own: dump the stacks, raise Failed
            return
        item.stash[_cancelled_after] = settings.timeout
        # Threadsafe, though we are on the loop's thread: it also wakes the loop, which may
        # be blocked in select() with no timeout and would not notice a plain cancel().
        task.get_loop().call_soon_threadsafe(
            task.cancel, f"Timeout (>{settings.timeout}s) from pytest-timeout"
        )
        signal.setitimer(signal.ITIMER_REAL, GRACE_SECONDS)

    # Replaces the handler pytest-timeout just installed; its cancel hook still restores the
    # default handler and stops the timer when the test ends.
    signal.signal(signal.SIGALRM, cancel_the_test_first)
    return installed


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    try:
        outcome = yield
    except asyncio.CancelledError as cancelled:
        if _cancelled_after in pyfuncitem.stash:
            raise pytest.fail.Exception(_message(pyfuncitem)) from cancelled
        raise
    if _cancelled_after in pyfuncitem.stash:  # it caught the cancellation and returned
        pytest.fail(_message(pyfuncitem))
    return outcome


def _message(item: pytest.Item) -> str:
    return (
        f"Timeout (>{item.stash[_cancelled_after]}s) from pytest-timeout: the test's task was "
        "cancelled where it waited (the traceback above)"
    )


def _test_function(item: pytest.Item) -> Any:
    function = getattr(item, "function", None)
    if function is None:
        return None
    original = inspect.unwrap(function)  # pytest-asyncio wraps it to run it in its loop
    return original if inspect.iscoroutinefunction(original) else None


def _running_test_task(test: Any) -> asyncio.Task[Any] | None:
    """The task running the test's own coroutine, if the alarm came while it runs."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not inside the loop: a sync fixture or pytest itself
        return None
    for task in asyncio.all_tasks(loop):
        if getattr(task.get_coro(), "cr_code", None) is test.__code__:
            return task
    return None
