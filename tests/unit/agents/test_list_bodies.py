"""The agent-list response is reused only for the very same (cached) list object."""

from __future__ import annotations

from dataclasses import replace

from domain.agents.models import Agent
from entrypoints.http.agents.schemas import AgentListBodies
from tests.fakes.clock import DEFAULT_START


def agent(name: str) -> Agent:
    return Agent(
        id=f"id-{name}",
        tenant_id="t1",
        name=name,
        description="",
        template_id="faq-assistant",
        agent_type="faq",
        business_type="",
        url="",
        knowledge_base_ids={},
        created_at=DEFAULT_START,
        updated_at=DEFAULT_START,
    )


def test_the_same_list_reuses_its_response_and_a_new_list_is_rebuilt() -> None:
    bodies = AgentListBodies(max_entries=2)
    cached = [agent("a")]
    first = bodies.response(cached)
    assert bodies.response(cached) is first
    assert first.agents[0].created_at == "2026-01-01T09:00:00.000Z"

    renamed = [replace(cached[0], name="b")]
    assert [a.name for a in bodies.response(renamed).agents] == ["b"]
    equal_but_new = [agent("a")]
    assert bodies.response(equal_but_new) is not first


def test_old_lists_are_forgotten_beyond_the_bound() -> None:
    bodies = AgentListBodies(max_entries=2)
    lists = [[agent(str(i))] for i in range(3)]
    first = bodies.response(lists[0])
    bodies.response(lists[1])
    bodies.response(lists[2])
    assert bodies.response(lists[0]) is not first
