"""The lexical intention matcher: normalization, typos, threshold, tie-breaks, greetings."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.agents.matching import (
    MATCH_THRESHOLD,
    is_greeting,
    match_intention,
    similarity,
    tokens,
)
from domain.agents.models import Intention

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def make_intention(name: str, examples: list[str], **overrides: Any) -> Intention:
    fields: dict[str, Any] = {
        "id": secrets.token_hex(8),
        "tenant_id": "t1",
        "agent_id": "a1",
        "name": name,
        "description": "",
        "examples": examples,
        "reply": f"reply for {name}",
        "collect_fields": [],
        "enabled": True,
        "priority": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return Intention(**fields)


PRICING = make_intention("Pricing", ["How much does it cost?", "What are your prices"])
HOURS = make_intention("Opening hours", ["When are you open?", "What time do you close"])
SHIPPING = make_intention("Shipping", ["Do you ship to Canada?", "delivery times"])
CATALOG = [PRICING, HOURS, SHIPPING]


def test_tokens_are_case_folded_stripped_of_punctuation_and_stemmed() -> None:
    assert tokens("PRICES, pricing & priced!") == ["pric", "pric", "pric"]
    assert tokens("Shipping shipped ships") == ["ship", "ship", "ship"]
    assert tokens("boxes cities hours") == ["box", "city", "hour"]


def test_function_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert tokens("What are your opening hours?") == ["open", "hour"]
    assert tokens("what is it") == ["what", "is", "it"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("how much is the pro plan? what's the price", PRICING),
        ("What are your opening hours?", HOURS),
        ("are you open on sunday", HOURS),
        ("do you deliver to canada", SHIPPING),
        ("shipping to Canada?", SHIPPING),
    ],
)
def test_picks_the_intention_whose_name_or_examples_match(
    message: str, expected: Intention
) -> None:
    match = match_intention(message, CATALOG)
    assert match is not None
    assert match.intention is expected
    assert MATCH_THRESHOLD <= match.score <= 1.0


def test_survives_typos_through_character_trigrams() -> None:
    match = match_intention("openning hurs?", CATALOG)
    assert match is not None
    assert match.intention is HOURS


def test_exact_phrase_scores_one() -> None:
    assert similarity("Opening hours", "opening hours") == pytest.approx(1.0)


def test_unrelated_message_matches_nothing() -> None:
    assert match_intention("my cat ate the remote control", CATALOG) is None
    assert match_intention("", CATALOG) is None
    assert match_intention("anything", []) is None


def test_an_edited_intention_is_matched_by_its_new_phrases() -> None:
    # Phrase features are cached by phrase text: the same id with new examples must not
    # be matched by what it said before.
    before = make_intention("Returns", ["How do I send an item back?"], id="same-id")
    after = make_intention("Returns", ["Can I swap the colour?"], id="same-id")
    message = "how do I send this item back"
    assert match_intention(message, [before]) is not None
    assert match_intention(message, [after]) is None
    assert match_intention("can I swap the colour", [after]) is not None


def test_disabled_intentions_are_ignored() -> None:
    disabled = make_intention("Pricing", ["What are your prices"], enabled=False)
    assert match_intention("what are your prices", [disabled]) is None


def test_ties_go_to_higher_priority_then_to_the_earlier_intention() -> None:
    low = make_intention("Refunds", ["refund my order"], priority=1)
    high = make_intention("Refund policy", ["refund my order"], priority=5)
    match = match_intention("refund my order", [low, high])
    assert match is not None
    assert match.intention is high

    first = make_intention("Refunds A", ["refund my order"])
    second = make_intention("Refunds B", ["refund my order"])
    match = match_intention("refund my order", [first, second])
    assert match is not None
    assert match.intention is first


def test_a_better_score_beats_priority() -> None:
    vague = make_intention("Orders", ["order status"], priority=9)
    exact = make_intention("Cancel order", ["cancel my order"], priority=0)
    match = match_intention("please cancel my order", [vague, exact])
    assert match is not None
    assert match.intention is exact


@pytest.mark.parametrize("message", ["hi", "Hello!", "hey there", "Good morning", "HELLO everyone"])
def test_bare_greetings_are_recognised(message: str) -> None:
    assert is_greeting(message)


@pytest.mark.parametrize("message", ["", "hi, what are your prices?", "good price", "thanks"])
def test_greetings_with_a_question_are_not_bare_greetings(message: str) -> None:
    assert not is_greeting(message)
