"""The model prompt of a turn: the agent's instructions, the inputs, history, the message."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from application.agents.ports import AgentProfile
from application.chat.ports import LLMRequest, PromptMessage
from domain.agents.matching import match_intention
from domain.chat.models import Message

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MAX_INPUT_VALUE_CHARS = 500


def merged_inputs(profile: AgentProfile, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's configured inputs (defaults) overridden by the request's."""
    return {**profile.config.config.inputs, **inputs}


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:MAX_INPUT_VALUE_CHARS]


def system_prompt(
    profile: AgentProfile, inputs: Mapping[str, Any], message_content: str = ""
) -> str:
    """Instructions (with `{{name}}` placeholders filled from inputs), language, inputs, the
    guidance of the intention the message matches, and what to collect for leads.

    A generative model gets the owner's intentions as guidance for this one message (not
    all of them: the prompt stays small and the model is not tempted by unrelated replies).
    """
    config = profile.config.config

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return _text(inputs[name]) if name in inputs else match.group(0)

    parts = [_PLACEHOLDER.sub(fill, config.instructions).strip()]
    if config.language:
        parts.append(f"Always reply in this language: {config.language}.")
    known = [(key, _text(value)) for key, value in inputs.items() if value not in ("", None)]
    if known:
        lines = "\n".join(f"- {key}: {value}" for key, value in known)
        parts.append(f"What is known about the user:\n{lines}")
    matched = match_intention(message_content, profile.intentions) if message_content else None
    if matched is not None:
        intention = matched.intention
        guide = [f"The user's message is about: {intention.name}."]
        if intention.description:
            guide.append(intention.description)
        if intention.reply:
            guide.append(f"Answer along these lines: {intention.reply}")
        if intention.collect_fields:
            guide.append(f"Try to learn: {', '.join(intention.collect_fields)}.")
        parts.append(" ".join(guide))
    if config.lead_capture.enabled and config.lead_capture.fields:
        wanted = [name for name in config.lead_capture.fields if not inputs.get(name)]
        if wanted:
            parts.append(f"Before the conversation ends, politely ask for: {', '.join(wanted)}.")
    if config.follow_up_questions:
        parts.append("End your reply with one short follow-up question.")
    if config.fallback_message:
        parts.append(f"When you cannot help, say: {config.fallback_message}")
    return "\n\n".join(part for part in parts if part)


def build_request(
    profile: AgentProfile,
    inputs: Mapping[str, Any],
    history: Sequence[Message],
    message_content: str,
) -> LLMRequest:
    config = profile.config.config
    messages = [PromptMessage("system", system_prompt(profile, inputs, message_content))]
    messages += [PromptMessage(m.role.value, m.content) for m in history]
    messages.append(PromptMessage("user", message_content))
    return LLMRequest(
        messages=messages,
        model=config.model,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        profile=profile,
    )
