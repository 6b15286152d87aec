"""Running chat turns in Redis, and stop requests that reach them on whichever replica runs them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from adapters.redis.client import unavailable
from application.chat.ports import RunningTask, StopWatch, TaskRegistry

logger = logging.getLogger("astra.redis.tasks")

WHAT = "task registry"
# How long a stop request is remembered for a task that has not (yet) seen it.
STOP_MARK_SECONDS = 60
# How often local tasks re-read their stop marks, in case a published stop was missed
# (listener reconnecting); the pub/sub message is the fast path.
RECHECK_SECONDS = 1.0
# How long one wait for a pub/sub message lasts before the listener looks at its timers.
POLL_SECONDS = 0.25
SUBSCRIBE_TIMEOUT_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 2.0
# How long `aclose` waits for each of its two steps (the cancelled listener to end, the
# subscription to close). Bounded because shutdown must not hang on Redis: a listener stuck in
# a client call that swallows its cancellation, or a connection to a Redis that stopped
# answering, is left behind (it ends by itself at its next loop turn) rather than waited for.
CLOSE_TIMEOUT_SECONDS = 2.0


def task_start_lua(task: int, stop: int, task_json: int, ttl_seconds: int) -> str:
    """Register the task; `stop_requested` is 1 when a stop came before it started. Shared
    with the turn gate's script; the numbers are KEYS/ARGV positions."""
    return f"""
redis.call('SET', KEYS[{task}], ARGV[{task_json}], 'EX', ARGV[{ttl_seconds}])
local stop_requested = redis.call('EXISTS', KEYS[{stop}])
"""


# KEYS[1] the task, KEYS[2] its stop mark; ARGV[1] the task's JSON, ARGV[2] its ttl in seconds.
# One script rather than a SET + EXISTS pipeline: the same single round trip, at half the
# client CPU.
_START = task_start_lua(1, 2, 1, 2) + "return stop_requested"


class RedisTaskRegistry(TaskRegistry):
    """Tasks under `{prefix}chat:task:{id}` (JSON, expiring with the turn's ttl).

    `request_stop` sets `{prefix}chat:stop:{id}` (a short-lived mark) and then PUBLISHes the id
    on `{prefix}chat:stop`. Every instance runs one listener on that channel that sets the
    watch of a task it runs. The mark covers what the message cannot: a stop sent before the
    task was registered or while the listener was reconnecting is seen by `start` and by the
    listener's periodic re-check of its own tasks.

    Lifecycle: `async with RedisTaskRegistry.open(client, prefix) as registry: ...`, or build
    one and `await registry.aclose()` at shutdown. The listener starts with the first `start`
    (or `await start_listening()`), so building a registry needs no Redis round trip.
    `aclose` returns within about 2 x `close_timeout` seconds, whatever Redis does.
    """

    def __init__(
        self,
        client: Redis,
        prefix: str,
        *,
        stop_mark_seconds: int = STOP_MARK_SECONDS,
        recheck_seconds: float = RECHECK_SECONDS,
        close_timeout: float = CLOSE_TIMEOUT_SECONDS,
    ) -> None:
        self._client = client
        self._task_prefix = f"{prefix}chat:task:"
        self._stop_prefix = f"{prefix}chat:stop:"
        self._channel = f"{prefix}chat:stop"
        self._stop_mark_seconds = stop_mark_seconds
        self._recheck_seconds = recheck_seconds
        self._close_timeout = close_timeout
        self._watches: dict[str, StopWatch] = {}
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._closed = False
        self._start = client.register_script(_START)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        client: Redis,
        prefix: str,
        *,
        stop_mark_seconds: int = STOP_MARK_SECONDS,
        recheck_seconds: float = RECHECK_SECONDS,
        close_timeout: float = CLOSE_TIMEOUT_SECONDS,
    ) -> AsyncIterator[RedisTaskRegistry]:
        """A registry whose listener is stopped when the block ends."""
        registry = cls(
            client,
            prefix,
            stop_mark_seconds=stop_mark_seconds,
            recheck_seconds=recheck_seconds,
            close_timeout=close_timeout,
        )
        try:
            yield registry
        finally:
            await registry.aclose()

    @property
    def listening(self) -> bool:
        """True while the stop listener runs."""
        return self._listener is not None and not self._listener.done()

    async def start_listening(self) -> None:
        """Subscribe to stop requests (once); returns when Redis confirmed the subscription."""
        if self.listening:
            return
        async with self._starting:
            if self._closed:
                raise RuntimeError("the task registry is closed")
            if self.listening:
                return
            await self._close_pubsub()
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self._channel)
                await asyncio.wait_for(self._confirmed(pubsub), SUBSCRIBE_TIMEOUT_SECONDS)
            except (RedisError, OSError) as exc:
                await _close_quietly(pubsub)
                raise unavailable(WHAT, exc) from exc
            if self._closed:  # `aclose` ran while we subscribed: it cannot see this pubsub
                await _close_quietly(pubsub)
                raise RuntimeError("the task registry is closed")
            self._pubsub = pubsub
            self._listener = asyncio.create_task(self._listen(pubsub), name="chat-stop-listener")

    async def aclose(self) -> None:
        """Stop listening; local watches are no longer set by stop requests.

        Never waits unbounded: the listener gets `close_timeout` seconds to end once cancelled,
        closing the subscription another `close_timeout`; whatever is still running then is
        abandoned with a warning (the listener also ends at its next turn, seeing `_closed`).
        """
        self._closed = True
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            if not await _ended_within(listener, self._close_timeout):
                logger.warning(
                    "chat stop listener still running %.1fs after it was cancelled; abandoned",
                    self._close_timeout,
                )
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            closing = asyncio.create_task(_close_quietly(pubsub), name="chat-stop-pubsub-close")
            if not await _ended_within(closing, self._close_timeout):
                closing.cancel()
                logger.warning(
                    "closing the chat stop subscription took over %.1fs; abandoned",
                    self._close_timeout,
                )

    async def start(self, task: RunningTask, ttl_seconds: int) -> StopWatch:
        watch = await self.watch(task.task_id)
        try:
            stop_requested = await self._start(
                keys=[self.task_key(task.task_id), self.stop_key(task.task_id)],
                args=[msgspec.json.encode(task), max(1, ttl_seconds)],
            )
        except (RedisError, OSError) as exc:
            self.forget(watch)
            raise unavailable(WHAT, exc) from exc
        if int(stop_requested):
            watch.stopped.set()
        return watch

    async def watch(self, task_id: str) -> StopWatch:
        """The local watch of a task about to be registered (listening first). Made before
        the registration's round trip, so a stop published meanwhile already finds it."""
        if not self.listening:
            await self.start_listening()
        watch = StopWatch(task_id)
        self._watches[task_id] = watch
        return watch

    def forget(self, watch: StopWatch) -> None:
        """Later stop requests no longer set `watch`."""
        if self._watches.get(watch.task_id) is watch:
            del self._watches[watch.task_id]

    async def finish(self, watch: StopWatch) -> None:
        self.forget(watch)
        try:
            await self._client.delete(self.task_key(watch.task_id), self.stop_key(watch.task_id))
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc

    async def get(self, task_id: str) -> RunningTask | None:
        try:
            raw = await self._client.get(self.task_key(task_id))
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc
        if raw is None:
            return None
        return msgspec.json.decode(raw, type=RunningTask)

    async def request_stop(self, task_id: str) -> None:
        local = self._watches.get(task_id)
        if local is not None:
            local.stopped.set()  # this replica runs it: no need to wait for the message
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                # The mark first: a listener that misses the message still finds it.
                pipe.set(self.stop_key(task_id), "1", ex=self._stop_mark_seconds)
                pipe.publish(self._channel, task_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise unavailable(WHAT, exc) from exc

    # ------------------------------------------------------------------ listener

    @staticmethod
    async def _confirmed(pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(timeout=POLL_SECONDS)
            if message is not None and message.get("type") == "subscribe":
                return

    async def _listen(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        next_recheck = loop.time() + self._recheck_seconds
        backoff = 0.05
        # `_closed` as well as cancellation: a client call that swallows the CancelledError
        # (or turns it into a timeout) must not keep the loop alive after `aclose`.
        while not self._closed:
            try:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=POLL_SECONDS
                )
                if message is not None and message.get("type") == "message":
                    self._stopped(_text(message["data"]))
                backoff = 0.05
            except (RedisError, OSError) as exc:
                if self._closed:  # `aclose` closed the subscription under us
                    return
                # The pub/sub connection re-subscribes when it reconnects; stops published
                # while it was down are caught up by the re-check below.
                logger.warning("chat stop listener: redis call failed: %s", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)
            except Exception:
                if self._closed:
                    return
                # A bug must not end stop delivery for the life of the process.
                logger.exception("chat stop listener failed on a message")
                await asyncio.sleep(POLL_SECONDS)
            if loop.time() >= next_recheck:
                await self._recheck()
                next_recheck = loop.time() + self._recheck_seconds

    def _stopped(self, task_id: str) -> None:
        watch = self._watches.get(task_id)
        if watch is not None:
            watch.stopped.set()

    async def _recheck(self) -> None:
        waiting = [task_id for task_id, w in self._watches.items() if not w.stopped.is_set()]
        if not waiting:
            return
        try:
            marks = await self._client.mget([self.stop_key(task_id) for task_id in waiting])
        except (RedisError, OSError) as exc:
            logger.warning("chat stop re-check: redis call failed: %s", type(exc).__name__)
            return
        for task_id, mark in zip(waiting, marks, strict=True):
            if mark is not None:
                self._stopped(task_id)

    # ------------------------------------------------------------------ helpers

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            await _close_quietly(pubsub)

    def task_key(self, task_id: str) -> str:
        return self._task_prefix + task_id

    def stop_key(self, task_id: str) -> str:
        return self._stop_prefix + task_id


async def _ended_within(task: asyncio.Task[None], seconds: float) -> bool:
    """Wait up to `seconds` for `task` to end, without cancelling it (unlike `wait_for`, which
    would then wait, unbounded, for the cancellation to take effect); False if it still runs.
    Its outcome is consumed either way, so an error is logged rather than left unretrieved."""
    await asyncio.wait({task}, timeout=seconds)
    if task.done():
        _log_failure(task)
        return True
    task.add_done_callback(_log_failure)
    return False


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("%s failed while closing", task.get_name(), exc_info=error)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _close_quietly(pubsub: PubSub) -> None:
    try:
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
    except (RedisError, OSError):
        logger.debug("closing the chat stop subscription failed", exc_info=True)
