"""``responses-gateway serve`` and ``responses-gateway migrate``."""

from __future__ import annotations

import argparse
import logging

from responses_gateway.config import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="responses-gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="apply migrations, then serve the API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
    commands.add_parser("migrate", help="apply pending database migrations and exit")
    args = parser.parse_args(argv)

    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s %(message)s"
    )
    from responses_gateway.store.migrations import migrate

    if args.command == "migrate":
        migrate(settings.database_url)
        return
    if not args.no_migrate:
        migrate(settings.database_url)
    import uvicorn

    uvicorn.run(
        "responses_gateway.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level,
        access_log=False,  # per-request logging costs more than the rest of a request
        ws="websockets-sansio",  # WebSocket mode; uvicorn's legacy "websockets" is deprecated
    )
