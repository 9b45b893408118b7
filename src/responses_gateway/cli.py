"""``responses-gateway serve | migrate | check | purge``."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from responses_gateway.config import Settings
from responses_gateway.observability.logs import configure_logging

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([dhm]?)$")
_UNIT = {"d": 86400.0, "": 86400.0, "h": 3600.0, "m": 60.0}


def duration(text: str) -> float:
    """``30d``, ``12h``, ``90m``, or a number of days, in seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (try 30d, 12h or 90m)")
    return float(match[1]) * _UNIT[match[2]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="responses-gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    commands.add_parser("migrate", help="apply pending database migrations and exit")
    commands.add_parser("check", help="check the settings, the database and the upstream")
    purge = commands.add_parser("purge", help="remove stored responses no one needs any more")
    purge.add_argument(
        "--older-than",
        type=duration,
        default=None,
        help="age (30d, 12h, 90m; default GATEWAY_RETENTION_DAYS, or only deleted tombstones)",
    )
    purge.add_argument("--dry-run", action="store_true", help="count, remove nothing")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if args.command == "check":
        sys.exit(0 if _check(settings) else 1)
    if args.command == "purge":
        older = args.older_than if args.older_than is not None else settings.retention_days * 86400
        print(asyncio.run(_purge(settings, older or None, dry_run=args.dry_run)))
        return
    from responses_gateway.store.migrations import migrate, migrate_if_behind

    if args.command == "migrate":
        migrate(settings.database_url)
        return
    if not args.no_migrate:
        migrate_if_behind(settings.database_url)  # Alembic stays out of the serving process
    from responses_gateway.serving import serve

    serve(settings, args.host, args.port, args.workers)


def _check(settings: Settings) -> bool:
    from responses_gateway.check import run_check

    def report(ok: bool, line: str) -> None:
        print(("ok    " if ok else "FAIL  ") + line)

    return run_check(settings, report)


async def _purge(settings: Settings, older_than: float | None, *, dry_run: bool) -> str:
    from responses_gateway.service.retention import cutoff_for, purge_once
    from responses_gateway.store.database import open_database
    from responses_gateway.store.retention import RetentionStore

    database = await open_database(settings.database_url, pool_size=1)
    try:
        store = RetentionStore(database)
        if dry_run:
            cutoff = cutoff_for(older_than)
            responses = await store.count_unneeded(cutoff)
            conversations = await store.count_old_conversations(cutoff)
            return f"would remove {responses} response(s), {conversations} conversation(s)"
        responses, conversations = await purge_once(store, older_than)
        return f"removed {responses} response(s), {conversations} conversation(s)"
    finally:
        await database.close()
