"""RedisTaskRegistry with two "replicas" on one Redis: a stop reaches the task wherever it runs."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from sqlalchemy.engine import make_url

from adapters.redis import create_redis
from adapters.redis.tasks import RedisTaskRegistry
from application.chat.ports import RunningTask
from domain.errors import Unavailable
from tests.support.tcp_proxy import FreezableProxy
from tests.support.waiting import DEADLINE_SECONDS, eventually

# A deadline, not a window: stops arrive in milliseconds; only a broken (or starved) run
# waits this long.
STOP_DEADLINE_SECONDS = 10.0
# The registry's bound per closing step in the aclose tests; aclose takes at most two.
CLOSE_TIMEOUT_SECONDS = 0.5
LISTENER = "chat-stop-listener"


@pytest.fixture
async def replica_a(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisTaskRegistry]:
    client = create_redis(redis_url)
    try:
        async with RedisTaskRegistry.open(client, redis_prefix) as registry:
            yield registry
    finally:
        await client.aclose()


@pytest.fixture
async def replica_b(redis_url: str, redis_prefix: str) -> AsyncIterator[RedisTaskRegistry]:
    client = create_redis(redis_url)
    try:
        async with RedisTaskRegistry.open(client, redis_prefix) as registry:
            yield registry
    finally:
        await client.aclose()


def new_task(**overrides: str) -> RunningTask:
    values = {
        "task_id": secrets.token_hex(8),
        "tenant_id": secrets.token_hex(8),
        "external_user_id": "user-1",
    }
    return RunningTask(**(values | overrides))


async def stopped_within(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def stop_messages_handled(listener: RedisTaskRegistry, requester: RedisTaskRegistry) -> None:
    """Return once `listener` has handled every stop `requester` published before this call.

    Proves a negative without a window: pub/sub delivers one channel's messages in order, so
    once a fresh task's stop (published now) has reached `listener`, the earlier ones have too.
    """
    probe = await listener.start(new_task(), ttl_seconds=60)
    try:
        await requester.request_stop(probe.task_id)
        assert await stopped_within(probe.stopped, STOP_DEADLINE_SECONDS)
    finally:
        await listener.finish(probe)


async def test_a_stop_requested_on_b_stops_the_task_running_on_a(
    replica_a: RedisTaskRegistry, replica_b: RedisTaskRegistry
) -> None:
    task = new_task()
    watch = await replica_a.start(task, ttl_seconds=60)
    assert not watch.stopped.is_set()
    await replica_b.request_stop(task.task_id)
    assert await stopped_within(watch.stopped, STOP_DEADLINE_SECONDS)


async def test_a_stop_for_another_task_leaves_this_one_running(
    replica_a: RedisTaskRegistry, replica_b: RedisTaskRegistry
) -> None:
    running, other = new_task(), new_task()
    watch = await replica_a.start(running, ttl_seconds=60)
    await replica_b.request_stop(other.task_id)
    await stop_messages_handled(replica_a, replica_b)
    assert not watch.stopped.is_set()


async def test_b_sees_the_task_a_runs_until_a_finishes_it(
    replica_a: RedisTaskRegistry, replica_b: RedisTaskRegistry
) -> None:
    task = new_task(external_user_id="ext-é-42")
    watch = await replica_a.start(task, ttl_seconds=60)
    assert await replica_b.get(task.task_id) == task
    assert await replica_b.get("no-such-task") is None
    await replica_a.finish(watch)
    assert await replica_b.get(task.task_id) is None


async def test_a_finished_task_is_no_longer_stopped(
    replica_a: RedisTaskRegistry, replica_b: RedisTaskRegistry
) -> None:
    task = new_task()
    watch = await replica_a.start(task, ttl_seconds=60)
    await replica_a.finish(watch)
    await replica_b.request_stop(task.task_id)
    await stop_messages_handled(replica_a, replica_b)
    assert not watch.stopped.is_set()


async def test_a_stop_that_came_before_the_start_is_seen_by_start(
    replica_a: RedisTaskRegistry, replica_b: RedisTaskRegistry
) -> None:
    task = new_task()
    await replica_b.request_stop(task.task_id)
    watch = await replica_a.start(task, ttl_seconds=60)
    assert watch.stopped.is_set()


async def test_a_stop_on_the_same_replica_is_immediate(replica_a: RedisTaskRegistry) -> None:
    task = new_task()
    watch = await replica_a.start(task, ttl_seconds=60)
    await replica_a.request_stop(task.task_id)
    assert watch.stopped.is_set()


async def test_a_published_stop_that_was_missed_is_caught_by_the_recheck(
    replica_a: RedisTaskRegistry, client: Redis, redis_prefix: str
) -> None:
    # Only the stop mark, no message: as if the listener was reconnecting when it was sent.
    task = new_task()
    watch = await replica_a.start(task, ttl_seconds=60)
    await client.set(f"{redis_prefix}chat:stop:{task.task_id}", "1", ex=60)
    assert await stopped_within(watch.stopped, STOP_DEADLINE_SECONDS)


async def test_the_task_expires_with_its_ttl(
    replica_a: RedisTaskRegistry, client: Redis, redis_prefix: str
) -> None:
    task = new_task()
    await replica_a.start(task, ttl_seconds=30)
    assert 25_000 < await client.pttl(f"{redis_prefix}chat:task:{task.task_id}") <= 30_000
    await replica_a.start(other := new_task(), ttl_seconds=1)
    assert await replica_a.get(other.task_id) is not None

    async def expired() -> bool:
        return await replica_a.get(other.task_id) is None

    await eventually(expired, "the 1 s task expiring")


async def test_many_tasks_on_two_replicas_each_get_only_their_own_stop(
    replica_a: RedisTaskRegistry, replica_b: RedisTaskRegistry
) -> None:
    tasks = [new_task() for _ in range(10)]
    watches = [
        await (replica_a if i % 2 else replica_b).start(task, ttl_seconds=60)
        for i, task in enumerate(tasks)
    ]
    to_stop = {task.task_id for task in tasks[::3]}
    await asyncio.gather(
        *(
            (replica_b if i % 2 else replica_a).request_stop(task.task_id)
            for i, task in enumerate(tasks)
            if task.task_id in to_stop
        )
    )
    stopped = [w for w in watches if w.task_id in to_stop]
    await asyncio.wait_for(
        asyncio.gather(*(w.stopped.wait() for w in stopped)), STOP_DEADLINE_SECONDS
    )
    await stop_messages_handled(replica_a, replica_b)
    await stop_messages_handled(replica_b, replica_a)
    assert {w.task_id for w in watches if w.stopped.is_set()} == to_stop


async def test_closing_ends_the_listener(redis_url: str, redis_prefix: str) -> None:
    client = create_redis(redis_url)
    try:
        async with RedisTaskRegistry.open(client, redis_prefix) as registry:
            assert not registry.listening  # started by the first task, not by opening
            await registry.start(new_task(), ttl_seconds=60)
            assert registry.listening
        assert not registry.listening
        with pytest.raises(RuntimeError, match="closed"):
            await registry.start(new_task(), ttl_seconds=60)
    finally:
        await client.aclose()


async def test_unreachable_redis_raises_unavailable() -> None:
    dead = create_redis("redis://127.0.0.1:1/0")
    try:
        async with RedisTaskRegistry.open(dead, "astra-test-dead:") as registry:
            for call in (
                registry.start(new_task(), ttl_seconds=60),
                registry.get("t"),
                registry.request_stop("t"),
            ):
                with pytest.raises(Unavailable) as caught:
                    await call
                assert caught.value.retry_after == 1
    finally:
        await dead.aclose()


async def test_an_idle_listener_still_delivers_stops(
    replica_a: RedisTaskRegistry, replica_b: RedisTaskRegistry
) -> None:
    # Longer than the client's socket timeout: waiting for messages must not break the link.
    task = new_task()
    watch = await replica_a.start(task, ttl_seconds=60)
    await asyncio.sleep(2.0)
    await replica_b.request_stop(task.task_id)
    assert await stopped_within(watch.stopped, STOP_DEADLINE_SECONDS)


async def test_the_listener_survives_a_dropped_connection(
    redis_url: str, redis_prefix: str, client: Redis, replica_b: RedisTaskRegistry
) -> None:
    name = f"astra-test-{secrets.token_hex(4)}"
    named = Redis.from_url(redis_url, client_name=name, decode_responses=True)
    try:
        async with RedisTaskRegistry.open(named, redis_prefix) as registry:
            first = await registry.start(new_task(), ttl_seconds=60)
            subscribers = [
                c for c in await client.client_list() if c["name"] == name and c["sub"] != "0"
            ]
            assert len(subscribers) == 1
            await client.client_kill_filter(_id=subscribers[0]["id"])
            # Sent while the listener is (maybe) down: the stop mark still reaches the task.
            await replica_b.request_stop(first.task_id)
            assert await stopped_within(first.stopped, STOP_DEADLINE_SECONDS)

            # And once it has reconnected, published stops arrive again.
            async def resubscribed() -> bool:
                return any(
                    c["name"] == name and c["sub"] != "0" and c["id"] != subscribers[0]["id"]
                    for c in await client.client_list()
                )

            await eventually(resubscribed, "the listener re-subscribing")
            second = await registry.start(new_task(), ttl_seconds=60)
            await replica_b.request_stop(second.task_id)
            assert await stopped_within(second.stopped, STOP_DEADLINE_SECONDS)
    finally:
        await named.aclose()


# ---------------------------------------------------------------------- closing is bounded


def listener_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t.get_name() == LISTENER and not t.done()}


async def closed_within(registry: RedisTaskRegistry, seconds: float) -> float | None:
    """How long `aclose` took, or None if it had not returned after `seconds`.

    Run as a task and waited for with `asyncio.wait`, which does not cancel it: an aclose that
    hangs fails the test instead of hanging it (a `wait_for` would wait for the cancellation).
    """
    started = time.monotonic()
    closing = asyncio.create_task(registry.aclose())
    await asyncio.wait({closing}, timeout=seconds)
    if not closing.done():
        closing.cancel()
        return None
    closing.result()
    return time.monotonic() - started


async def test_aclose_returns_promptly_when_the_listener_ignores_its_cancellation(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hang seen in CI: the listener stuck in a client call that swallows CancelledError
    # (and a subscription whose close never returns either). aclose must not wait on them.
    client = create_redis(redis_url)
    stuck, release = asyncio.Event(), asyncio.Event()
    make_pubsub = client.pubsub

    def stubborn_pubsub(**kwargs: Any) -> PubSub:
        pubsub = make_pubsub(**kwargs)
        read, subscribed = pubsub.get_message, False

        async def get_message(*args: Any, **kwargs: Any) -> Any:
            nonlocal subscribed
            if subscribed:  # the listener's reads, once `start_listening` saw the confirmation
                stuck.set()
                while not release.is_set():
                    with contextlib.suppress(asyncio.CancelledError):
                        await release.wait()
            message = await read(*args, **kwargs)
            subscribed = subscribed or (message or {}).get("type") == "subscribe"
            return message

        async def aclose() -> None:
            await release.wait()

        monkeypatch.setattr(pubsub, "get_message", get_message)
        monkeypatch.setattr(pubsub, "aclose", aclose)
        return pubsub

    monkeypatch.setattr(client, "pubsub", stubborn_pubsub)
    registry = RedisTaskRegistry(client, redis_prefix, close_timeout=CLOSE_TIMEOUT_SECONDS)
    try:
        before = listener_tasks()
        await registry.start_listening()
        (listener,) = listener_tasks() - before
        await asyncio.wait_for(stuck.wait(), DEADLINE_SECONDS)

        took = await closed_within(registry, DEADLINE_SECONDS)
        assert took is not None, "aclose waited on a listener that ignores its cancellation"
        assert took < 2 * CLOSE_TIMEOUT_SECONDS + 1.0
        assert not registry.listening

        # Abandoned, not leaked: once its call returns, the listener sees the registry closed.
        release.set()
        await asyncio.wait({listener}, timeout=DEADLINE_SECONDS)
        assert listener.done()
    finally:
        release.set()
        await client.aclose()


async def test_aclose_returns_promptly_when_redis_stops_answering(
    redis_url: str, redis_prefix: str
) -> None:
    target = make_url(redis_url)
    async with FreezableProxy(target.host or "127.0.0.1", target.port or 6379) as proxy:
        via_proxy = str(target.set(host="127.0.0.1", port=proxy.port))
        client = create_redis(via_proxy)
        try:
            registry = RedisTaskRegistry(client, redis_prefix, close_timeout=CLOSE_TIMEOUT_SECONDS)
            await registry.start(new_task(), ttl_seconds=60)
            assert registry.listening
            proxy.freeze()

            took = await closed_within(registry, DEADLINE_SECONDS)
            assert took is not None, "aclose waited on a Redis that does not answer"
            assert took < 2 * CLOSE_TIMEOUT_SECONDS + 1.0
            assert not registry.listening
        finally:
            proxy.thaw()
            await client.aclose()


async def test_a_start_that_races_aclose_leaves_no_listener(
    redis_url: str, redis_prefix: str
) -> None:
    client = create_redis(redis_url)
    try:
        registry = RedisTaskRegistry(client, redis_prefix)
        before = listener_tasks()
        starting = asyncio.create_task(registry.start_listening())
        await asyncio.sleep(0)  # it is now waiting for Redis to confirm the subscription
        await registry.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            await starting
        assert not registry.listening
        assert not listener_tasks() - before
    finally:
        await client.aclose()
