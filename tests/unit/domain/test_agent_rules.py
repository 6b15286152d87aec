"""Agent rules: config and intention bounds, model recording, contacts, lead merging."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from domain.agents.contacts import normalize_email, normalize_phone
from domain.agents.leads import merge_sighting, new_lead
from domain.agents.models import AgentConfig, LeadCapture, LeadSighting
from domain.agents.rules import (
    MAX_TOKENS_MAX,
    check_priority,
    clean_agent_name,
    clean_examples,
    clean_field_names,
    clean_knowledge_base_ids,
    clean_url,
    intention_name_key,
    is_known_model,
    validate_config,
)
from domain.errors import InvalidArgument

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def field_of(excinfo: pytest.ExceptionInfo[InvalidArgument]) -> str:
    return excinfo.value.field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"temperature": -0.1}, "config.temperature"),
        ({"temperature": 2.01}, "config.temperature"),
        ({"temperature": float("nan")}, "config.temperature"),
        ({"max_tokens": 0}, "config.max_tokens"),
        ({"max_tokens": MAX_TOKENS_MAX + 1}, "config.max_tokens"),
        ({"instructions": "x" * 20_001}, "config.instructions"),
        ({"welcome_message": "x" * 2001}, "config.welcome_message"),
        ({"model": "m" * 101}, "config.model"),
        ({"language": "en\x00"}, "config.language"),
        ({"lead_capture": LeadCapture(True, ["e-mail"])}, "config.lead_capture.fields[0]"),
        (
            {"lead_capture": LeadCapture(True, [f"f{i}" for i in range(21)])},
            "config.lead_capture.fields",
        ),
        ({"inputs": {f"k{i}": i for i in range(51)}}, "config.inputs"),
        ({"inputs": {"big": "x" * 20_000}}, "config.inputs"),
    ],
)
def test_config_out_of_bounds_names_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as excinfo:
        validate_config(replace(AgentConfig(), **change))  # type: ignore[arg-type]
    assert field_of(excinfo) == field


def test_config_at_the_bounds_is_cleaned_and_kept() -> None:
    config = AgentConfig(
        instructions="  Be kind.\nAlways.  ",
        model=" gpt-4o ",
        temperature=2,
        max_tokens=MAX_TOKENS_MAX,
        lead_capture=LeadCapture(True, ["email", " phone", "email"]),
        inputs={"tone": "warm"},
    )
    cleaned = validate_config(config)
    assert cleaned.instructions == "Be kind.\nAlways."
    assert cleaned.model == "gpt-4o"
    assert cleaned.temperature == 2.0
    assert cleaned.max_tokens == MAX_TOKENS_MAX
    assert cleaned.lead_capture.fields == ["email", "phone"]
    assert validate_config(replace(config, temperature=0)).temperature == 0.0


@pytest.mark.parametrize(
    ("model", "known"),
    [
        ("", True),
        ("local", True),
        ("gpt-4o-mini", True),
        ("gpt-4.1", True),
        ("claude-3-5-sonnet", True),
        ("llama-3.1-8b-instruct", True),
        ("gpt-4o-mni", False),
        ("my-finetune", False),
    ],
)
def test_unknown_models_are_recognised_but_allowed(model: str, known: bool) -> None:
    assert is_known_model(model) is known
    assert validate_config(AgentConfig(model=model)).model == model


def test_agent_fields() -> None:
    assert clean_agent_name("  Support bot ") == "Support bot"
    for bad in ("", "   ", "x" * 101, "a\nb"):
        with pytest.raises(InvalidArgument):
            clean_agent_name(bad)
    assert clean_url("") == ""
    assert clean_url(" https://shop.example/help ") == "https://shop.example/help"
    for bad in ("ftp://x.example", "javascript:alert(1)", "https://", "http://" + "a" * 2048):
        with pytest.raises(InvalidArgument) as excinfo:
            clean_url(bad)
        assert field_of(excinfo) == "url"
    assert clean_knowledge_base_ids({" kb ": " id-1 "}) == {"kb": "id-1"}
    with pytest.raises(InvalidArgument) as excinfo:
        clean_knowledge_base_ids({f"kb{i}": "x" for i in range(51)})
    assert field_of(excinfo) == "knowledge_base_ids"


def test_intention_fields() -> None:
    assert intention_name_key(" Opening Hours ") == intention_name_key("opening hours")
    assert clean_examples([" hi "]) == ["hi"]
    with pytest.raises(InvalidArgument) as excinfo:
        clean_examples(["ok", " "])
    assert field_of(excinfo) == "intention.examples[1]"
    with pytest.raises(InvalidArgument):
        clean_examples(["x"] * 51)
    with pytest.raises(InvalidArgument):
        clean_examples(["x" * 501])
    assert clean_field_names(["order_number", "Email"], "f", 20) == ["order_number", "Email"]
    for bad in (["1st"], ["has space"], ["x" * 65]):
        with pytest.raises(InvalidArgument):
            clean_field_names(bad, "f", 20)
    assert check_priority(-1000) == -1000
    with pytest.raises(InvalidArgument):
        check_priority(1001)


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        (" Ann@Example.COM ", "ann@example.com"),
        ("ann@example", ""),
        ("not an email", ""),
        ("", ""),
    ],
)
def test_normalize_email(raw: str, email: str) -> None:
    assert normalize_email(raw) == email


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("+34 612-345-678", "+34612345678"),
        ("0034 (612) 345 678", "+34612345678"),
        ("612.345.678", "+612345678"),
        ("12345", ""),
        ("+1234567890123456", ""),
        ("call me", ""),
        ("+34 612 345 678 ext 2", ""),
        ("", ""),
    ],
)
def test_normalize_phone(raw: str, phone: str) -> None:
    assert normalize_phone(raw) == phone


def sighting(**fields: object) -> LeadSighting:
    base = LeadSighting(
        tenant_id="t1", agent_id="a1", conversation_id="c1", external_user_id="u1", source="web"
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_merging_never_erases_keeps_the_best_score_and_the_latest_intent() -> None:
    lead = new_lead(
        "lead-1",
        sighting(
            email="ann@example.com",
            first_name="Ann",
            company="Acme",
            intent="pricing",
            lead_score=70,
            attributes={"team_size": 5, "budget": "5k"},
        ),
        NOW,
    )
    later = NOW + timedelta(minutes=5)
    merged = merge_sighting(
        lead,
        sighting(
            conversation_id="c2",
            phone="+34612345678",
            intent="demo",
            lead_score=40,
            attributes={"budget": "10k"},
        ),
        later,
    )
    assert merged.first_name == "Ann"
    assert merged.company == "Acme"
    assert merged.email == "ann@example.com"
    assert merged.phone == "+34612345678"
    assert merged.intent == "demo"
    assert merged.lead_score == 70
    assert merged.attributes == {"team_size": 5, "budget": "10k"}
    assert merged.conversation_id == "c2"
    assert (merged.created_at, merged.updated_at) == (NOW, later)
    assert merge_sighting(merged, sighting(intent="", lead_score=90), later).intent == "demo"
    assert merged.lead_score == 90
