"""The `astra` command: serve the API, migrate the database, run background jobs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import signal
import sys
from collections.abc import Sequence

from entrypoints.logs import configure_logging
from entrypoints.settings import SettingsError, load_settings

logger = logging.getLogger("astra")


# After the grace period, running turns end and settle; this bounds that too, after which
# uvicorn cancels whatever is left and the process exits.
SETTLE_AFTER_GRACE_SECONDS = 8


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from entrypoints.supervisor import Supervisor

    settings = load_settings()  # fail fast on bad settings, before workers start
    config = uvicorn.Config(
        "entrypoints.app:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=math.ceil(
            settings.shutdown_grace_seconds + SETTLE_AFTER_GRACE_SECONDS
        ),
    )

    if config.workers > 1:
        Supervisor(config, sockets=[config.bind_socket()]).run()
        return 0
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 3


def _db_upgrade(_: argparse.Namespace) -> int:
    from adapters.sql.migrate import upgrade

    settings = load_settings()
    asyncio.run(upgrade(settings.database_url))
    logger.info("database upgraded")
    return 0


def _worker(_: argparse.Namespace) -> int:
    from entrypoints.worker import run_worker

    settings = load_settings()

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop)

    asyncio.run(main())
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except SettingsError as exc:
        print(f"astra: configuration error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
