"""The bundled templates load, are complete, and a broken file fails at start."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from application.agents.templates import BundledTemplateCatalog
from domain.agents.rules import is_known_model
from domain.errors import InvalidArgument


def bundled_raw() -> dict[str, Any]:
    text = resources.files("application.agents").joinpath("templates.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return raw


def test_the_three_shipped_templates_have_full_configs_and_starter_intentions() -> None:
    catalog = BundledTemplateCatalog.bundled()
    ids = [t.id for t in catalog.list()]
    assert {"faq-assistant", "lead-qualification", "customer-support"} <= set(ids)
    for template in catalog.list():
        config = template.config
        assert config.instructions
        assert config.welcome_message
        assert config.fallback_message
        assert is_known_model(config.model)
        assert 1 <= config.max_tokens <= 8192
        assert len(template.intentions) >= 3
        assert all(i.examples and i.reply for i in template.intentions)
        assert catalog.get(template.id) is template
    assert catalog.get("nope") is None
    lead = catalog.get("lead-qualification")
    assert lead is not None
    assert lead.config.lead_capture.enabled


@pytest.mark.parametrize(
    ("breakage", "error"),
    [
        (lambda raw: raw.update(version=2), ValueError),
        (lambda raw: raw["templates"][1].update(id=raw["templates"][0]["id"]), ValueError),
        (lambda raw: raw["templates"][0]["config"].update(temperature=3), InvalidArgument),
        (
            lambda raw: raw["templates"][0]["intentions"].append(
                dict(raw["templates"][0]["intentions"][0])
            ),
            ValueError,
        ),
    ],
)
def test_a_broken_templates_file_is_refused(breakage: Any, error: type[Exception]) -> None:
    raw = copy.deepcopy(bundled_raw())
    breakage(raw)
    with pytest.raises(error):
        BundledTemplateCatalog.parse(raw)
