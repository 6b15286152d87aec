"""`astra serve` freezes the heap it starts with, so full collections skip it."""

from __future__ import annotations

import gc

import pytest
from litestar.testing import AsyncTestClient

from entrypoints.app import create_app
from entrypoints.settings import Settings

pytestmark = pytest.mark.e2e


async def test_a_served_app_freezes_its_start_up_heap(e2e_settings: Settings) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        async with AsyncTestClient(app=create_app(e2e_settings, freeze_heap=True)) as client:
            assert gc.get_freeze_count() > 10_000
            assert (await client.get("/healthz")).status_code == 200
    finally:
        gc.unfreeze()


async def test_an_app_built_for_tests_does_not(e2e_settings: Settings) -> None:
    gc.unfreeze()
    async with AsyncTestClient(app=create_app(e2e_settings)):
        assert gc.get_freeze_count() == 0
