"""`/metrics` of `astra serve --workers 2` counts every worker's requests, whichever worker
answers the scrape."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.infra import REDIS_URL, clean_environment, redis_prefix
from tests.integration.faults.serving import astra_serve

pytestmark = pytest.mark.e2e

REQUESTS = 40
SCRAPES = 6


def healthz_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "astra_http_request_duration_seconds_count"
        and sample.labels.get("route") == "/healthz"
    )


async def test_every_worker_is_counted_on_every_scrape(
    tmp_path: Path, migrated_database_url: str
) -> None:
    async with redis_prefix() as prefix:
        env = clean_environment(
            {
                "ASTRA_DATABASE_URL": migrated_database_url,
                "ASTRA_REDIS_URL": REDIS_URL,
                "ASTRA_REDIS_PREFIX": prefix,
                "ASTRA_JWT_SECRET": secrets.token_urlsafe(48),
                "ASTRA_DATA_DIR": str(tmp_path / "data"),
            }
        )
        async with astra_serve(tmp_path, env, "astra-metrics", workers=2) as server:
            # A new connection per request, so the kernel hands them to both workers.
            fresh = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(base_url=server.base_url, limits=fresh) as http:
                # The start-up probe asked /healthz too: count from what is there now.
                start = healthz_count((await http.get("/metrics")).text)
                for _ in range(REQUESTS):
                    assert (await http.get("/healthz")).status_code == 200
                counts = [
                    healthz_count((await http.get("/metrics")).text) - start for _ in range(SCRAPES)
                ]
    assert counts == [REQUESTS] * SCRAPES
