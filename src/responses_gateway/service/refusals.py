"""Known request fields the gateway cannot honour: refused by name, never silently dropped."""

from __future__ import annotations

from responses_gateway.errors import InvalidRequest
from responses_gateway.schemas.request import CreateResponseRequest

_UNSUPPORTED_INCLUDES = frozenset({"message.output_text.logprobs"})


def refuse_unsupported_fields(request: CreateResponseRequest) -> None:
    if request.background:
        _refuse("background", "Background responses are not supported yet.")
    if request.generate is False:
        _refuse("generate", "generate=false (a warm-up) exists in WebSocket mode only.")
    if request.conversation is not None:
        _refuse("conversation", "Conversations are not supported yet; use previous_response_id.")
    if request.prompt is not None:
        _refuse("prompt", "Stored prompt templates are not supported.")
    if request.context_management:
        _refuse("context_management", "Automatic compaction is not supported.")
    if request.truncation == "auto":
        _refuse(
            "truncation",
            "truncation 'auto' is not supported: this gateway never drops context silently.",
        )
    for value in request.include:
        if value in _UNSUPPORTED_INCLUDES:
            _refuse("include", f"include '{value}' is not supported.")


def _refuse(param: str, message: str) -> None:
    raise InvalidRequest(message, param=param, code="unsupported_parameter")
