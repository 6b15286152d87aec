"""Pure validation of agents, their configuration and intentions, with the bounds as constants."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from domain.agents.models import AgentConfig, LeadCapture
from domain.errors import InvalidArgument

# Agent
AGENT_NAME_MAX = 100
AGENT_DESCRIPTION_MAX = 1000
AGENT_LABEL_MAX = 100  # agent_type, business_type
AGENT_URL_MAX = 2048
KNOWLEDGE_BASE_IDS_MAX = 50
KNOWLEDGE_BASE_ID_MAX = 200  # each key and each value

# Config
TEMPERATURE_MIN = 0.0
TEMPERATURE_MAX = 2.0
MAX_TOKENS_MIN = 1
MAX_TOKENS_MAX = 8192
INSTRUCTIONS_MAX = 20_000
MESSAGE_MAX = 2000  # welcome and fallback messages
MODEL_NAME_MAX = 100
LANGUAGE_MAX = 35  # the longest sane BCP 47 tag
LEAD_FIELDS_MAX = 20
INPUTS_MAX_KEYS = 50
INPUTS_MAX_JSON_BYTES = 16_384

# Intention
INTENTION_NAME_MAX = 100
INTENTION_DESCRIPTION_MAX = 500
EXAMPLES_MAX = 50
EXAMPLE_MAX = 500
REPLY_MAX = 4000
COLLECT_FIELDS_MAX = 20
PRIORITY_MIN = -1000
PRIORITY_MAX = 1000

# Field names (lead capture, collect_fields) end up as keys of a lead's attributes.
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# Model names Astra knows; anything else is allowed (self-hosted servers name models freely)
# but recorded as unknown on the config version so typos can be found.
KNOWN_MODELS = frozenset(
    {
        "local",
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4.1-nano",
        "o4-mini",
    }
)
KNOWN_MODEL_PREFIXES = ("claude-", "llama-3")


def is_known_model(model: str) -> bool:
    """Empty means "the backend's default model", which is known by definition."""
    return not model or model in KNOWN_MODELS or model.startswith(KNOWN_MODEL_PREFIXES)


def _no_control(text: str, field: str, allow_newlines: bool = False) -> None:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    if any(ord(ch) < 32 and ch not in allowed for ch in text):
        raise InvalidArgument(field, "must not contain control characters")


def bounded_text(raw: str, field: str, maximum: int, *, multiline: bool = True) -> str:
    """Trimmed text of at most `maximum` characters (may be empty)."""
    text = raw.strip()
    if len(text) > maximum:
        raise InvalidArgument(field, f"must be at most {maximum} characters")
    _no_control(text, field, allow_newlines=multiline)
    return text


def required_text(raw: str, field: str, maximum: int) -> str:
    text = bounded_text(raw, field, maximum, multiline=False)
    if not text:
        raise InvalidArgument(field, "is required")
    return text


def clean_agent_name(raw: str, field: str = "name") -> str:
    return required_text(raw, field, AGENT_NAME_MAX)


def clean_agent_description(raw: str, field: str = "description") -> str:
    return bounded_text(raw, field, AGENT_DESCRIPTION_MAX)


def clean_label(raw: str, field: str) -> str:
    return bounded_text(raw, field, AGENT_LABEL_MAX, multiline=False)


def clean_url(raw: str, field: str = "url") -> str:
    """An http(s) URL with a host, or ""."""
    url = raw.strip()
    if not url:
        return ""
    if len(url) > AGENT_URL_MAX:
        raise InvalidArgument(field, f"must be at most {AGENT_URL_MAX} characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidArgument(field, "is not a valid URL") from None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or " " in url:
        raise InvalidArgument(field, "must be an http or https URL")
    return url


def clean_knowledge_base_ids(
    raw: dict[str, str], field: str = "knowledge_base_ids"
) -> dict[str, str]:
    if len(raw) > KNOWLEDGE_BASE_IDS_MAX:
        raise InvalidArgument(field, f"must have at most {KNOWLEDGE_BASE_IDS_MAX} entries")
    cleaned: dict[str, str] = {}
    for key, value in raw.items():
        name = required_text(key, f"{field} key", KNOWLEDGE_BASE_ID_MAX)
        cleaned[name] = bounded_text(
            value, f"{field}.{name}", KNOWLEDGE_BASE_ID_MAX, multiline=False
        )
    return cleaned


def clean_field_names(raw: list[str], field: str, maximum: int) -> list[str]:
    """Identifier-like names, trimmed, duplicates dropped (first kept)."""
    if len(raw) > maximum:
        raise InvalidArgument(field, f"must have at most {maximum} items")
    names: list[str] = []
    for index, item in enumerate(raw):
        name = item.strip()
        if not FIELD_NAME.match(name):
            raise InvalidArgument(
                f"{field}[{index}]", "must be a letter or _ then up to 63 letters, digits or _"
            )
        if name not in names:
            names.append(name)
    return names


def _check_inputs(inputs: dict[str, Any], field: str) -> None:
    if len(inputs) > INPUTS_MAX_KEYS:
        raise InvalidArgument(field, f"must have at most {INPUTS_MAX_KEYS} keys")
    try:
        size = len(json.dumps(inputs, ensure_ascii=False).encode())
    except (TypeError, ValueError):
        raise InvalidArgument(field, "must be a JSON object") from None
    if size > INPUTS_MAX_JSON_BYTES:
        raise InvalidArgument(field, f"must be at most {INPUTS_MAX_JSON_BYTES} bytes as JSON")


def validate_config(config: AgentConfig, field: str = "config") -> AgentConfig:
    """A cleaned copy of `config`, or `InvalidArgument` naming the first bad field."""
    temperature = float(config.temperature)
    if not math.isfinite(temperature) or not (TEMPERATURE_MIN <= temperature <= TEMPERATURE_MAX):
        raise InvalidArgument(
            f"{field}.temperature", f"must be between {TEMPERATURE_MIN:g} and {TEMPERATURE_MAX:g}"
        )
    if not MAX_TOKENS_MIN <= config.max_tokens <= MAX_TOKENS_MAX:
        raise InvalidArgument(
            f"{field}.max_tokens", f"must be between {MAX_TOKENS_MIN} and {MAX_TOKENS_MAX}"
        )
    _check_inputs(config.inputs, f"{field}.inputs")
    return replace(
        config,
        instructions=bounded_text(config.instructions, f"{field}.instructions", INSTRUCTIONS_MAX),
        welcome_message=bounded_text(
            config.welcome_message, f"{field}.welcome_message", MESSAGE_MAX
        ),
        fallback_message=bounded_text(
            config.fallback_message, f"{field}.fallback_message", MESSAGE_MAX
        ),
        model=bounded_text(config.model, f"{field}.model", MODEL_NAME_MAX, multiline=False),
        temperature=temperature,
        language=bounded_text(config.language, f"{field}.language", LANGUAGE_MAX, multiline=False),
        lead_capture=LeadCapture(
            enabled=config.lead_capture.enabled,
            fields=clean_field_names(
                config.lead_capture.fields, f"{field}.lead_capture.fields", LEAD_FIELDS_MAX
            ),
        ),
        inputs=dict(config.inputs),
    )


def intention_name_key(name: str) -> str:
    """What makes two intention names the same: case-insensitive (unique per agent)."""
    return name.strip().casefold()


def clean_intention_name(raw: str, field: str = "intention.name") -> str:
    return required_text(raw, field, INTENTION_NAME_MAX)


def clean_examples(raw: list[str], field: str = "intention.examples") -> list[str]:
    if len(raw) > EXAMPLES_MAX:
        raise InvalidArgument(field, f"must have at most {EXAMPLES_MAX} items")
    return [required_text(item, f"{field}[{i}]", EXAMPLE_MAX) for i, item in enumerate(raw)]


def check_priority(priority: int, field: str = "intention.priority") -> int:
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidArgument(field, f"must be between {PRIORITY_MIN} and {PRIORITY_MAX}")
    return priority


# Every enabled intention goes into each chat turn's prompt; keep that bounded.
INTENTIONS_PER_AGENT_MAX = 100
