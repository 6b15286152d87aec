"""The bundled agent templates (`templates.json` beside this file), loaded and validated once."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from application.agents.ports import TemplateCatalog
from domain.agents.models import AgentConfig, LeadCapture, Template, TemplateIntention
from domain.agents.rules import (
    COLLECT_FIELDS_MAX,
    INTENTION_DESCRIPTION_MAX,
    REPLY_MAX,
    bounded_text,
    check_priority,
    clean_agent_description,
    clean_agent_name,
    clean_examples,
    clean_field_names,
    clean_intention_name,
    clean_label,
    intention_name_key,
    validate_config,
)

SUPPORTED_VERSION = 1


def _config(raw: dict[str, Any], field: str) -> AgentConfig:
    defaults = AgentConfig()
    capture = raw.get("lead_capture") or {}
    config = AgentConfig(
        instructions=str(raw.get("instructions", "")),
        welcome_message=str(raw.get("welcome_message", "")),
        fallback_message=str(raw.get("fallback_message", "")),
        model=str(raw.get("model", "")),
        temperature=float(raw.get("temperature", defaults.temperature)),
        max_tokens=int(raw.get("max_tokens", defaults.max_tokens)),
        language=str(raw.get("language", defaults.language)),
        follow_up_questions=bool(raw.get("follow_up_questions", False)),
        lead_capture=LeadCapture(
            enabled=bool(capture.get("enabled", False)),
            fields=[str(name) for name in capture.get("fields", [])],
        ),
        inputs=dict(raw.get("inputs") or {}),
    )
    return validate_config(config, field)


def _intention(raw: dict[str, Any], field: str) -> TemplateIntention:
    return TemplateIntention(
        name=clean_intention_name(str(raw["name"]), f"{field}.name"),
        description=bounded_text(
            str(raw.get("description", "")), f"{field}.description", INTENTION_DESCRIPTION_MAX
        ),
        examples=tuple(clean_examples([str(e) for e in raw.get("examples", [])], field)),
        reply=bounded_text(str(raw.get("reply", "")), f"{field}.reply", REPLY_MAX),
        collect_fields=tuple(
            clean_field_names(
                [str(f) for f in raw.get("collect_fields", [])],
                f"{field}.collect_fields",
                COLLECT_FIELDS_MAX,
            )
        ),
        priority=check_priority(int(raw.get("priority", 0)), f"{field}.priority"),
    )


def parse_template(raw: dict[str, Any], field: str) -> Template:
    intentions = tuple(
        _intention(item, f"{field}.intentions[{index}]")
        for index, item in enumerate(raw.get("intentions", []))
    )
    keys = [intention_name_key(i.name) for i in intentions]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{field}: intention names must be unique (case-insensitive)")
    return Template(
        id=clean_label(str(raw["id"]), f"{field}.id"),
        name=clean_agent_name(str(raw["name"]), f"{field}.name"),
        description=clean_agent_description(str(raw.get("description", ""))),
        agent_type=clean_label(str(raw.get("agent_type", "")), f"{field}.agent_type"),
        config=_config(raw.get("config") or {}, f"{field}.config"),
        intentions=intentions,
    )


class BundledTemplateCatalog(TemplateCatalog):
    """Templates shipped as data with the code; a broken file fails at start, not per request."""

    def __init__(self, templates: list[Template]) -> None:
        ids = [t.id for t in templates]
        if not ids or len(set(ids)) != len(ids) or "" in ids:
            raise ValueError("templates need unique, non-empty ids")
        self._templates = templates
        self._by_id = {t.id: t for t in templates}

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> BundledTemplateCatalog:
        version = int(raw["version"])
        if version != SUPPORTED_VERSION:
            raise ValueError(f"templates file version {version} is not supported")
        return cls(
            [parse_template(item, f"templates[{i}]") for i, item in enumerate(raw["templates"])]
        )

    @classmethod
    def bundled(cls) -> BundledTemplateCatalog:
        text = resources.files("application.agents").joinpath("templates.json").read_text("utf-8")
        return cls.parse(json.loads(text))

    def list(self) -> list[Template]:
        return list(self._templates)

    def get(self, template_id: str) -> Template | None:
        return self._by_id.get(template_id)
