#!/bin/sh
# Container entrypoint for responses-gateway.
#   (no arguments) or options  -> responses-gateway serve --host 0.0.0.0 --port 8080 [options]
#                                 (serve applies pending migrations first unless --no-migrate)
#   migrate                    -> apply pending migrations and exit
#   any other command          -> run it (e.g. `sh` for debugging)
set -eu

case "${1:-}" in
    "" | -*)
        exec responses-gateway serve --host 0.0.0.0 --port 8080 "$@"
        ;;
    migrate)
        shift
        exec responses-gateway migrate "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
