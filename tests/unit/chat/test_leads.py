"""Leads from chat turns: contacts in inputs and messages, the matched intention, the score."""

from __future__ import annotations

import pytest

from application.chat.lead_extraction import TurnFacts, sighting_for
from domain.chat.leads import find_emails, find_phones, lead_score
from tests.fakes.chat import make_intention
from tests.unit.chat.kit import ChatKit


def facts(message: str, **inputs: object) -> TurnFacts:
    return TurnFacts("t", "a", "c", "u", "web", message, inputs)


def test_contacts_in_the_message_are_found_and_normalized() -> None:
    sighting = sighting_for(facts("Mail me at Jane.Doe@Example.COM or call +34 600 123 456"), [])
    assert sighting is not None
    assert (sighting.email, sighting.phone) == ("jane.doe@example.com", "+34600123456")
    assert sighting.lead_score == 60


def test_inputs_win_over_the_message_and_give_names() -> None:
    sighting = sighting_for(
        facts("write to other@example.com", email="ann@example.com", first_name="Ann"), []
    )
    assert sighting is not None
    assert (sighting.email, sighting.first_name, sighting.lead_score) == (
        "ann@example.com",
        "Ann",
        45,
    )


def test_no_email_or_phone_means_no_lead() -> None:
    assert sighting_for(facts("my order 2026-01-05 is late", first_name="Ann"), []) is None


def test_the_matched_intention_becomes_the_intent() -> None:
    pricing = make_intention("t", "a", "pricing", ["how much does it cost", "prices"])
    sighting = sighting_for(facts("What are your prices? bob@example.com"), [pricing])
    assert sighting is not None
    assert (sighting.intent, sighting.lead_score) == ("pricing", 55)
    assert sighting.lead_summary.startswith("What are your prices?")


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("call 600 123 456", ["600 123 456"]),
        ("+1 (415) 555-0100 please", ["+1 (415) 555-0100"]),
        ("order 12345 on 2026-01-05", []),
        ("born 05.01.2026", []),
    ],
)
def test_phone_numbers_need_enough_digits_and_are_not_dates(text: str, phones: list[str]) -> None:
    assert find_phones(text) == phones


def test_emails_drop_a_trailing_full_stop() -> None:
    assert find_emails("It is a.b@c.io.") == ["a.b@c.io"]


def test_the_score_is_capped() -> None:
    assert lead_score(has_email=True, has_phone=True, has_name=True, has_intent=True) == 100
    assert lead_score(has_email=False, has_phone=False, has_name=False, has_intent=False) == 0


async def test_a_turn_records_its_lead_and_a_failing_recorder_does_not_fail_it() -> None:
    kit = ChatKit()
    agent = kit.agent()
    await kit.give_credits(10)
    turn, _ = await kit.finished(agent, "I am reachable at sam@example.com", source="web")
    [sighting] = kit.leads.sightings
    assert (sighting.email, sighting.conversation_id, sighting.source) == (
        "sam@example.com",
        turn.conversation_id,
        "web",
    )
    kit.leads.fail = True
    _, finished = await kit.finished(agent, "again sam@example.com")
    assert finished.debited == 1
