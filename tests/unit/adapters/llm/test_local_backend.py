"""The `local` backend: configured replies chosen lexically, streamed in word chunks."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from adapters.llm.local import DEFAULT_FALLBACK, DEFAULT_WELCOME, LocalAgentBackend
from adapters.llm.token_count import count_prompt_tokens, count_tokens
from application.agents.ports import AgentProfile
from application.chat.ports import Completion, LLMEvent, LLMRequest, PromptMessage, TextDelta
from domain.agents.models import Agent, AgentConfig, AgentConfigVersion, Intention

NOW = datetime(2030, 1, 1, tzinfo=UTC)
HOURS_REPLY = "We are open  Monday to Friday,\n9:00-17:00 (CET). "


def make_intention(name: str, examples: list[str], reply: str, **overrides: object) -> Intention:
    intention = Intention(
        id=secrets.token_hex(8),
        tenant_id="t1",
        agent_id="a1",
        name=name,
        description="",
        examples=examples,
        reply=reply,
        collect_fields=[],
        enabled=True,
        priority=0,
        created_at=NOW,
        updated_at=NOW,
    )
    for field_name, value in overrides.items():
        setattr(intention, field_name, value)
    return intention


def make_profile(
    intentions: list[Intention] | None = None, welcome: str = "", fallback: str = ""
) -> AgentProfile:
    agent = Agent(
        id="a1",
        tenant_id="t1",
        name="Support",
        description="",
        template_id="",
        agent_type="support",
        business_type="",
        url="",
        knowledge_base_ids={},
        created_at=NOW,
        updated_at=NOW,
    )
    config = AgentConfig(welcome_message=welcome, fallback_message=fallback)
    version = AgentConfigVersion(
        id="c1",
        tenant_id="t1",
        agent_id="a1",
        version=1,
        config=config,
        user_id="",
        model_known=True,
        created_at=NOW,
    )
    return AgentProfile(agent=agent, config=version, intentions=intentions or [])


SHOP = make_profile(
    [
        make_intention("Opening hours", ["When are you open?"], HOURS_REPLY),
        make_intention("Pricing", ["How much does it cost?"], "Plans start at 10 EUR a month."),
    ],
    welcome="Welcome to the shop! Ask me anything.",
    fallback="I will ask a colleague and get back to you.",
)


def ask(text: str, profile: AgentProfile | None = SHOP, max_tokens: int = 512) -> LLMRequest:
    messages = [
        PromptMessage("system", "You help customers."),
        PromptMessage("user", text),
    ]
    return LLMRequest(messages, model="", temperature=0.7, max_tokens=max_tokens, profile=profile)


async def collect(
    request: LLMRequest, backend: LocalAgentBackend | None = None
) -> tuple[list[str], Completion]:
    events: list[LLMEvent] = [e async for e in (backend or LocalAgentBackend()).stream(request)]
    *deltas, last = events
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert isinstance(last, Completion)
    return [d.text for d in deltas if isinstance(d, TextDelta)], last


async def test_answers_the_matched_intentions_reply_word_by_word_exactly() -> None:
    chunks, completion = await collect(ask("what are your opening hours?"))
    assert "".join(chunks) == HOURS_REPLY
    assert chunks[:3] == ["We ", "are ", "open  "]
    assert completion.finish_reason == "stop"
    assert completion.model == "local"


async def test_groups_words_into_chunks_of_the_configured_size() -> None:
    chunks, _ = await collect(ask("how much does it cost"), LocalAgentBackend(chunk_words=3))
    assert chunks == ["Plans start at ", "10 EUR a ", "month."]


async def test_reports_approximate_prompt_and_completion_tokens() -> None:
    request = ask("how much does it cost")
    _, completion = await collect(request)
    assert completion.prompt_tokens == count_prompt_tokens(request.messages)
    assert completion.completion_tokens == count_tokens("Plans start at 10 EUR a month.")
    assert completion.completion_tokens > 0


async def test_a_bare_greeting_gets_the_welcome_message() -> None:
    chunks, _ = await collect(ask("Hello there!"))
    assert "".join(chunks) == "Welcome to the shop! Ask me anything."


async def test_no_match_gets_the_fallback_message() -> None:
    chunks, _ = await collect(ask("can I bring my dog?"))
    assert "".join(chunks) == "I will ask a colleague and get back to you."


async def test_empty_welcome_and_fallback_use_built_in_defaults() -> None:
    bare = make_profile()
    greeting, _ = await collect(ask("hi", bare))
    other, _ = await collect(ask("can I bring my dog?", bare))
    assert "".join(greeting) == DEFAULT_WELCOME
    assert "".join(other) == DEFAULT_FALLBACK


async def test_without_a_profile_answers_a_neutral_fallback() -> None:
    chunks, _ = await collect(ask("what are your opening hours?", profile=None))
    assert "".join(chunks) == DEFAULT_FALLBACK


async def test_answers_the_last_user_message_not_earlier_ones() -> None:
    messages = [
        PromptMessage("user", "what are your opening hours?"),
        PromptMessage("assistant", HOURS_REPLY),
        PromptMessage("user", "and how much does it cost?"),
    ]
    request = LLMRequest(messages, model="", temperature=0.7, max_tokens=512, profile=SHOP)
    chunks, _ = await collect(request)
    assert "".join(chunks) == "Plans start at 10 EUR a month."


async def test_disabled_intentions_and_intentions_without_reply_are_not_answered() -> None:
    profile = make_profile(
        [
            make_intention("Pricing", ["How much does it cost?"], "secret", enabled=False),
            make_intention("Opening hours", ["When are you open?"], "   "),
        ],
        fallback="fallback",
    )
    for question in ("how much does it cost", "when are you open"):
        chunks, _ = await collect(ask(question, profile))
        assert "".join(chunks) == "fallback"


async def test_max_tokens_truncates_at_a_word_and_reports_length() -> None:
    chunks, completion = await collect(ask("what are your opening hours?", max_tokens=4))
    assert "".join(chunks) == "We are open  Monday "
    assert completion.completion_tokens == 4
    assert completion.finish_reason == "length"


async def test_closing_the_stream_early_stops_it() -> None:
    stream = LocalAgentBackend().stream(ask("what are your opening hours?"))
    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert first == TextDelta("We ")
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


def test_chunk_words_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_words"):
        LocalAgentBackend(chunk_words=0)
