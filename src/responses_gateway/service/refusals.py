"""Known request fields the gateway cannot honour: refused by name, never silently dropped."""

from __future__ import annotations

from responses_gateway.errors import InvalidRequest
from responses_gateway.schemas.request import CreateResponseRequest

_UNSUPPORTED_INCLUDES = frozenset({"message.output_text.logprobs"})


def refuse_unsupported_fields(request: CreateResponseRequest) -> None:
    if request.background and not request.store:
        raise InvalidRequest(
            "background=true requires store=true: a background response is stored so that it "
            "can be retrieved, resumed and cancelled.",
            param="background",
        )
    if request.generate is False:
        _refuse("generate", "generate=false (a warm-up) exists in WebSocket mode only.")
    if request.prompt is not None:
        _refuse("prompt", "Stored prompt templates are not supported.")
    for value in request.include:
        if value in _UNSUPPORTED_INCLUDES:
            _refuse("include", f"include '{value}' is not supported.")


def _refuse(param: str, message: str) -> None:
    raise InvalidRequest(message, param=param, code="unsupported_parameter")
