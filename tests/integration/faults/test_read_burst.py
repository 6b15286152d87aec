"""A burst of authenticated reads on one worker: the Redis pool waits for a free connection
within its bound instead of failing fast, so a healthy Redis never turns into 503s."""

from __future__ import annotations

import asyncio
from collections import Counter
from urllib.parse import urlsplit

import pytest

from bench.astra import astra_deployment, sign_up

pytestmark = pytest.mark.integration

BURST = 400
ANSWER_WITHIN_SECONDS = 60.0


async def burst_of_reads(base_url: str, token: str) -> list[str]:
    """Open every connection first, then send all requests at once; return the status lines.

    An HTTP client library paces its requests through its own pool and event loop, which
    spreads them out; writing ready-made requests on open sockets makes them arrive together,
    as a load balancer's burst does, so they all need Redis at the same moment.
    """
    address = urlsplit(base_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    request = (
        f"GET /account/v1/user HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    connections = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(BURST)))
    for _, writer in connections:
        writer.write(request)

    async def status_line(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        try:
            answer = await reader.read()  # `Connection: close`: the server ends the answer
        finally:
            writer.close()
        return (
            answer.split(b"\r\n", 1)[0].decode(errors="replace")
            + " "
            + answer[-200:].decode(errors="replace")
        )

    async with asyncio.timeout(ANSWER_WITHIN_SECONDS):
        return await asyncio.gather(*(status_line(r, w) for r, w in connections))


async def test_400_concurrent_reads_on_one_worker_all_answer_200() -> None:
    async with astra_deployment() as deployment:
        _, token = await sign_up(deployment)
        answers = await burst_of_reads(deployment.base_url, token)
    statuses = Counter(answer.split(" ", 2)[1] for answer in answers)
    failures = {answer for answer in answers if answer.split(" ", 2)[1] != "200"}
    assert statuses == Counter({"200": BURST}), (statuses, sorted(failures)[:3])
