"""RedisTaskRegistry with two "replicas" on one Redis: a stop reaches the task wherever it runs."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from adapters.redis import create_redis
from adapters.redis.tasks import RedisTaskRegistry
from application.chat.ports import RunningTask
from domain.errors import Unavailable

STOP_DEADLINE_SECONDS = 1.0


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


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis_client = create_redis(redis_url)
    try:
        yield redis_client
    finally:
        await redis_client.aclose()


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
    assert not await stopped_within(watch.stopped, 0.5)


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
    assert not await stopped_within(watch.stopped, 0.5)


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
    assert await stopped_within(watch.stopped, 2.5)


async def test_the_task_expires_with_its_ttl(
    replica_a: RedisTaskRegistry, client: Redis, redis_prefix: str
) -> None:
    task = new_task()
    await replica_a.start(task, ttl_seconds=30)
    assert 25_000 < await client.pttl(f"{redis_prefix}chat:task:{task.task_id}") <= 30_000
    await replica_a.start(other := new_task(), ttl_seconds=1)
    await asyncio.sleep(1.1)
    assert await replica_a.get(other.task_id) is None


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
    await asyncio.sleep(STOP_DEADLINE_SECONDS)
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
            assert await stopped_within(first.stopped, 2.5)
            # And once it has reconnected, published stops arrive again.
            await asyncio.sleep(0.5)
            second = await registry.start(new_task(), ttl_seconds=60)
            await replica_b.request_stop(second.task_id)
            assert await stopped_within(second.stopped, STOP_DEADLINE_SECONDS)
    finally:
        await named.aclose()
