"""The gateway's error tree and the OpenAI error envelope every 4xx/5xx answers with.

* GatewayError (500, server_error)
  * InvalidRequest (400, invalid_request_error): bad input, unknown previous_response_id, refused URLs
  * Unauthorized (401)
  * NotFound (404)
  * UpstreamError (status of the upstream, or 502): the chat-completions backend failed
    (``upstream_errors`` maps each backend's error dialect onto it)
    * UpstreamBusy (503, Retry-After): no upstream connection within the pool timeout
  * StoreUnavailable (503, Retry-After): the database did not answer
  * McpDependencyFailed (424): an MCP server could not be listed (OpenAI answers 424 too)
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """An error reported to the client as ``{"error": {"message", "type", "param", "code"}}``."""

    status_code: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    # Sent with the error: a class's own (``Retry-After``) or an upstream's (its rate limits).
    headers: dict[str, str] = {}

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        if headers:
            self.headers = headers
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]

    def envelope(self) -> dict[str, Any]:
        return error_envelope(self.message, self.type, self.param, self.code)


class InvalidRequest(GatewayError):
    status_code = 400
    type = "invalid_request_error"


class Unauthorized(GatewayError):
    status_code = 401
    type = "invalid_request_error"


class NotFound(GatewayError):
    status_code = 404
    type = "invalid_request_error"


class UpstreamError(GatewayError):
    """The upstream answered an error (its status is kept for 4xx) or could not be reached (502)."""

    status_code = 502
    type = "upstream_error"

    def envelope(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status_code < 500 else self.type
        return error_envelope(self.message, kind, self.param, self.code)


class UpstreamBusy(UpstreamError):
    """No upstream connection could be had in time: the caller may retry shortly."""

    status_code = 503
    headers = {"retry-after": "1"}

    def __init__(self, message: str) -> None:
        super().__init__(message, code="upstream_unavailable")


class StoreUnavailable(GatewayError):
    """The database did not answer (down, restarting, out of connections): worth a retry."""

    status_code = 503
    headers = {"retry-after": "1"}

    def __init__(self) -> None:
        super().__init__("The response store is unavailable; try again.", code="store_unavailable")


class McpDependencyFailed(GatewayError):
    status_code = 424
    type = "external_connector_error"


def error_envelope(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def previous_response_not_found(response_id: str) -> InvalidRequest:
    """One answer for unknown, deleted, store=false and other owners' ids: no existence oracle."""
    return InvalidRequest(
        f"Previous response with id '{response_id}' not found.",
        code="previous_response_not_found",
        param="previous_response_id",
    )
