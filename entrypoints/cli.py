"""The `astra` command: serve the API, migrate the database, run background jobs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from entrypoints.logs import configure_logging
from entrypoints.preflight import StartupError, preflight
from entrypoints.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from uvicorn import Config

logger = logging.getLogger("astra")


# After the grace period, running turns end and settle; this bounds that too, after which
# uvicorn cancels whatever is left and the process exits.
SETTLE_AFTER_GRACE_SECONDS = 8


def uvicorn_config(args: argparse.Namespace, settings: Settings) -> Config:
    """How `astra serve` runs uvicorn for these arguments and settings."""
    from uvicorn import Config

    if args.workers > 1 and not settings.redis_url:
        # In-process limits and revocations would be per worker: a logout seen by one only.
        raise SettingsError(
            "--workers > 1 needs ASTRA_REDIS_URL: without Redis, limits and logouts would "
            "hold in one worker process only"
        )
    return Config(
        "entrypoints.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        # Forwarded headers are believed only from the configured proxies (none by default):
        # anyone else could pick their own address and slip past per-IP limits.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(
            settings.shutdown_grace_seconds + SETTLE_AFTER_GRACE_SECONDS
        ),
    )


def share_metrics_between_workers() -> str:
    """Before any worker starts (and before anything imports prometheus_client): each worker
    writes its metric values under one directory, and `/metrics` on any of them sums all.
    A directory the operator named is used as it is; otherwise a new one, empty, whose path
    is returned for removal at exit."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return ""
    created = tempfile.mkdtemp(prefix="astra-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = created
    return created


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from entrypoints.supervisor import Supervisor

    settings = load_settings()
    config = uvicorn_config(args, settings)  # fails fast, before workers start
    preflight(settings)
    if config.workers > 1:
        metrics_dir = share_metrics_between_workers()
        try:
            Supervisor(config, sockets=[config.bind_socket()]).run()
        finally:
            if metrics_dir:
                shutil.rmtree(metrics_dir, ignore_errors=True)
        return 0
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3


def _db_upgrade(_: argparse.Namespace) -> int:
    from adapters.sql.migrate import upgrade

    settings = load_settings()
    preflight(settings)
    asyncio.run(upgrade(settings.database_url))
    logger.info("database upgraded")
    return 0


def _worker(_: argparse.Namespace) -> int:
    from entrypoints.worker import run_worker

    settings = load_settings()
    preflight(settings)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(main())
    return 0


def _stripe_sync(_: argparse.Namespace) -> int:
    from adapters.payments.stripe import StripePaymentProvider
    from adapters.security.clock import SystemClock
    from application.billing.offers import OfferCatalog
    from entrypoints.settings import require_stripe

    settings = require_stripe(load_settings())
    catalog = OfferCatalog.bundled()

    async def main() -> None:
        provider = StripePaymentProvider.connect(
            settings.stripe.api_key,
            settings.stripe.webhook_secret,
            settings.stripe.api_base,
            catalog,
            SystemClock(),
            settings.effective_frontend_url,
        )
        done = await provider.sync_catalog(catalog)
        for label, ids in (
            ("created", done.created),
            ("updated", done.updated),
            ("unchanged", done.unchanged),
        ):
            print(f"{label}: {', '.join(ids) if ids else '-'}")

    asyncio.run(main())
    return 0


def _config(_: argparse.Namespace) -> int:
    from entrypoints.settings import describe_settings

    for name, value in describe_settings(load_settings()):
        print(f"{name} = {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="astra", description="Astra API service")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply migrations").set_defaults(handler=_db_upgrade)

    commands.add_parser("worker", help="run background jobs").set_defaults(handler=_worker)
    commands.add_parser(
        "config", help="print the effective settings (secrets masked)"
    ).set_defaults(handler=_config)

    stripe_parser = commands.add_parser("stripe", help="Stripe maintenance")
    stripe_commands = stripe_parser.add_subparsers(dest="stripe_command", required=True)
    stripe_commands.add_parser(
        "sync", help="create or update the Stripe products and prices of every offer"
    ).set_defaults(handler=_stripe_sync)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except SettingsError as exc:
        print(f"astra: configuration error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"astra: cannot start: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
