"""``/openapi.json`` as the gateway really behaves: the request bodies it parses itself (the
routes read the body with ``parse_body``, so FastAPI cannot see them) and the error envelope on
every error status it can answer, never FastAPI's 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from responses_gateway.schemas.request import CreateResponseRequest

_REF = "#/components/schemas/{model}"

# Route → the model of its JSON body (routes not listed take none, or pass it through).
REQUEST_BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("/v1/responses", "post"): CreateResponseRequest,
}
_PASSED_THROUGH = {("/v1/chat/completions", "post")}

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

_ERRORS = {
    "400": "Invalid request: a parameter is named in `param`",
    "401": "Missing or wrong API key (when `GATEWAY_API_KEYS` is set)",
    "404": "Unknown, deleted or another key's response",
    "408": "The request body was not received within `GATEWAY_BODY_TIMEOUT`",
    "413": "The body is over `GATEWAY_MAX_REQUEST_BYTES` (after decompression)",
    "415": "A `Content-Encoding` other than gzip, deflate or zstd",
    "500": "A bug; the connection is closed (`Connection: close`)",
    "502": "The upstream failed or could not be reached",
    "503": "The store or the upstream is unavailable; `Retry-After` says when to retry",
    "504": "The upstream timed out",
}
_CREATE_ONLY = {"424": "An MCP server could not be listed"}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, routes=app.routes)
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = _ERROR_SCHEMA
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _describe(operation, (path, method), schemas)
    return document


def _describe(operation: dict[str, Any], route: tuple[str, str], schemas: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    errors = _ERRORS | (_CREATE_ONLY if route in REQUEST_BODIES else {})
    for status, description in errors.items():
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    model = REQUEST_BODIES.get(route)
    if model is not None:
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        body_schema: dict[str, Any] = {"$ref": _REF.format(model=model.__name__)}
    elif route in _PASSED_THROUGH:
        body_schema = {"type": "object", "description": "Sent to the upstream as it is."}
    else:
        return
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": body_schema}},
    }
