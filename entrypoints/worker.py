"""`astra worker`: background jobs outside the HTTP process (email delivery, chat recovery,
payment events re-driven and subscriptions reconciled with the provider)."""

from __future__ import annotations

import asyncio
import logging

from entrypoints.container import Overrides, build_container
from entrypoints.settings import Settings

logger = logging.getLogger("astra.worker")


async def run_worker(settings: Settings, stop: asyncio.Event) -> None:
    """Run the email relay and chat recovery until `stop` is set."""
    async with build_container(settings, Overrides(), run_recovery=True):
        logger.info("worker started")
        await stop.wait()
    logger.info("worker stopped")
