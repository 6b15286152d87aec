"""Server-sent events from an aiohttp response, parsed by httpx-sse's decoders.

httpx-sse's `EventSource` only reads httpx responses; its two decoders (lines by the SSE
newline rules, fields into events) take plain text and are what it runs itself. They sit in
a private module of the pinned version (`uv.lock`); `tests/unit/adapters/llm` exercises
them through the backend, so an upgrade that moves them fails there first.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncGenerator

import aiohttp
from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder


async def server_sent_events(
    response: aiohttp.ClientResponse,
) -> AsyncGenerator[ServerSentEvent, None]:
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    lines = SSELineDecoder()
    events = SSEDecoder()
    async for chunk in response.content.iter_any():
        for line in lines.decode(text.decode(chunk)):
            event = events.decode(line)
            if event is not None:
                yield event
    for line in lines.flush():
        event = events.decode(line)
        if event is not None:
            yield event
