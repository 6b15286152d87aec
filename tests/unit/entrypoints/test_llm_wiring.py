"""`ASTRA_LLM_*` settings and the choice of model backend."""

from __future__ import annotations

import pytest

from adapters.llm.local import LocalAgentBackend
from adapters.llm.openai import OpenAICompatibleBackend
from entrypoints.llm_wiring import build_llm_backend, new_llm_http_client, open_llm_backend
from entrypoints.settings import Settings, SettingsError, load_settings

OPENAI_ENV = {"ASTRA_LLM_BACKEND": "openai", "ASTRA_LLM_BASE_URL": "http://127.0.0.1:8080/v1"}


def test_llm_timeouts_and_retries_have_defaults() -> None:
    llm = load_settings({}).llm
    assert (llm.connect_timeout, llm.first_byte_timeout, llm.idle_timeout) == (5.0, 60.0, 30.0)
    assert llm.max_retries == 2


def test_llm_timeouts_and_retries_are_read() -> None:
    llm = load_settings(
        {
            **OPENAI_ENV,
            "ASTRA_LLM_CONNECT_TIMEOUT": "1.5",
            "ASTRA_LLM_FIRST_BYTE_TIMEOUT": "20",
            "ASTRA_LLM_IDLE_TIMEOUT": "7",
            "ASTRA_LLM_MAX_RETRIES": "0",
        }
    ).llm
    assert (llm.connect_timeout, llm.first_byte_timeout, llm.idle_timeout) == (1.5, 20.0, 7.0)
    assert llm.max_retries == 0


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"ASTRA_LLM_BACKEND": "openai"}, "ASTRA_LLM_BASE_URL"),
        ({**OPENAI_ENV, "ASTRA_LLM_BASE_URL": "localhost:8080"}, "ASTRA_LLM_BASE_URL"),
        ({"ASTRA_LLM_CONNECT_TIMEOUT": "soon"}, "ASTRA_LLM_CONNECT_TIMEOUT"),
        ({"ASTRA_LLM_FIRST_BYTE_TIMEOUT": "0"}, "ASTRA_LLM_FIRST_BYTE_TIMEOUT"),
        ({"ASTRA_LLM_IDLE_TIMEOUT": "-1"}, "ASTRA_LLM_IDLE_TIMEOUT"),
        ({"ASTRA_LLM_MAX_RETRIES": "-1"}, "ASTRA_LLM_MAX_RETRIES"),
    ],
)
def test_bad_llm_settings_are_refused_by_name(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        load_settings(env)


def test_local_is_the_embedded_default_and_needs_no_client() -> None:
    assert isinstance(build_llm_backend(Settings(), None), LocalAgentBackend)


async def test_openai_streams_over_the_given_client() -> None:
    settings = load_settings(OPENAI_ENV)
    async with new_llm_http_client(settings.llm) as http:
        assert isinstance(build_llm_backend(settings, http), OpenAICompatibleBackend)
    with pytest.raises(ValueError, match="aiohttp session"):
        build_llm_backend(settings, None)


async def test_open_llm_backend_closes_the_client_it_made() -> None:
    settings = load_settings(OPENAI_ENV)
    async with open_llm_backend(settings) as llm:
        assert isinstance(llm, OpenAICompatibleBackend)
        client = llm._client
        assert not client.closed
    assert client.closed
