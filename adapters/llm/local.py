"""The embedded `local` backend: answers from the agent's own configuration, no model server.

This is NOT a generative model. It retrieves text the tenant configured: the reply of the
intention that best matches the user's last message (`domain.agents.matching`, a lexical
similarity over intention names and examples), else the welcome message for a bare greeting,
else the fallback message. It makes the product usable out of the box — agents, intentions,
streaming, credits and leads all behave as with a real model — while answers are only as good
as the configured intentions. Point `ASTRA_LLM_BACKEND=openai` at a model server for real
generation.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from adapters.llm.token_count import count_prompt_tokens, count_tokens
from application.chat.ports import Completion, LLMBackend, LLMEvent, LLMRequest, TextDelta
from domain.agents.matching import is_greeting, match_intention

MODEL_NAME = "local"
DEFAULT_WELCOME = "Hello! How can I help you today?"
DEFAULT_FALLBACK = (
    "Sorry, I don't have an answer to that yet. Could you rephrase your question, "
    "or leave your email so someone from our team can follow up?"
)
# Leading whitespace stays with the first word and trailing whitespace with each word, so the
# chunks concatenate back to the reply exactly.
_WORD_PIECES = re.compile(r"\s*\S+\s*")


class LocalAgentBackend(LLMBackend):
    """Streams the configured reply in chunks of `chunk_words` words, `delay` seconds apart."""

    def __init__(self, chunk_words: int = 1, delay: float = 0.0) -> None:
        if chunk_words < 1:
            raise ValueError("chunk_words must be at least 1")
        self._chunk_words = chunk_words
        self._delay = delay

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        reply = choose_reply(request)
        pieces, finish_reason = _limit(_words(reply), request.max_tokens)
        for start in range(0, len(pieces), self._chunk_words):
            if start and self._delay > 0:
                await asyncio.sleep(self._delay)
            yield TextDelta("".join(pieces[start : start + self._chunk_words]))
        yield Completion(
            prompt_tokens=count_prompt_tokens(request.messages),
            completion_tokens=count_tokens("".join(pieces)),
            finish_reason=finish_reason,
            model=MODEL_NAME,
        )


def choose_reply(request: LLMRequest) -> str:
    """The matched intention's reply, else the welcome message for a greeting, else fallback."""
    profile = request.profile
    if profile is None:
        return DEFAULT_FALLBACK
    config = profile.config.config
    welcome = config.welcome_message.strip() or DEFAULT_WELCOME
    fallback = config.fallback_message.strip() or DEFAULT_FALLBACK
    message = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    if not message.strip():
        return welcome
    answerable = [i for i in profile.intentions if i.enabled and i.reply.strip()]
    matched = match_intention(message, answerable)
    if matched is not None:
        return matched.intention.reply
    return welcome if is_greeting(message) else fallback


def _words(text: str) -> list[str]:
    pieces = _WORD_PIECES.findall(text)
    return pieces if pieces or not text else [text]


def _limit(pieces: list[str], max_tokens: int) -> tuple[list[str], str]:
    """The longest word prefix within `max_tokens` (no limit when it is not positive)."""
    if max_tokens <= 0:
        return pieces, "stop"
    used = 0
    for index, piece in enumerate(pieces):
        used += count_tokens(piece)
        if used > max_tokens:
            return pieces[:index], "length"
    return pieces, "stop"
