"""Every error leaves as the OpenAI envelope, never as FastAPI's ``{"detail": …}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from responses_gateway.api.json import JSONBody
from responses_gateway.errors import GatewayError, error_envelope

log = logging.getLogger("responses_gateway")


def gateway_error_response(exc: GatewayError) -> Response:
    return JSONBody(exc.envelope(), status_code=exc.status_code, headers=exc.headers or None)


async def _gateway_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return gateway_error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"] if part not in ("query", "path", "body")]
    param = ".".join(loc) or None
    message = f"Invalid value for '{param}': {error['msg']}."
    return JSONBody(
        error_envelope(message, "invalid_request_error", param, "invalid_value"), status_code=400
    )


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
    message = "Not found." if exc.status_code == 404 else str(exc.detail)
    return JSONBody(error_envelope(message, kind), status_code=exc.status_code)


async def _unexpected(_request: Request, exc: Exception) -> Response:
    return unexpected_error_response(exc)


def unexpected_error_response(exc: Exception) -> Response:
    """A 500 for a bug: logged with its traceback, never shown to the client."""
    log.exception("unhandled error", exc_info=exc)
    # uvicorn closes the connection after an unhandled error: say so, or a keep-alive client
    # sends its next request into a closed socket.
    return JSONBody(
        error_envelope("The server had an error.", "server_error"),
        status_code=500,
        headers={"connection": "close"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
