"""Request limits that hold before a body is parsed: its size (after decompression) and the
number of input items. (How long a body may take is the HTTP protocol's: ``http_server.py``.)

``RequestBodies`` is an ASGI middleware: it reads each request body itself, counting as it reads
(a ``Content-Length`` over the limit is refused before a byte of the body is read), decompresses
``gzip``, ``deflate`` and ``zstd`` bodies chunk by chunk with the limit applied to the output (a
decompression bomb stops at the limit, it is never inflated whole), then hands the app the plain
body: as the request's ``http.request`` message and, read without a second pass, in
``scope[BODY]`` (``read_body``). A refusal closes the connection: the rest of the body is never
read.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Annotated, Any, ClassVar, TypeVar, Union, cast, get_args, get_origin

import orjson
from fastapi import Request
from pydantic import BaseModel, Field, create_model
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from responses_gateway.config import Settings
from responses_gateway.errors import InvalidRequest, error_envelope
from responses_gateway.schemas.keyed import KeyedJson

Model = TypeVar("Model", bound=BaseModel)
BODY = "responses_gateway.body"  # the scope key of the plain body ``RequestBodies`` read


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int
    max_input_items: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_request_bytes, settings.max_input_items)


def bounded_model(model: type[Model], request: Request, raw: bytes) -> type[Model]:
    """``model`` with its ``input`` list capped at the app's item limit, and a body with more
    items than that refused as soon as it is parsed.

    pydantic refuses a list over ``max_length`` only after the whole body is parsed and the
    list copied into the error (200,000 tiny items: ~0.5 s, 32 MiB of them ~2.5 s), so the
    bounded model is a ``KeyedJson`` that counts the items on the parsed JSON before validating
    anything. Measured in process (wall): 0.06 s and 0.35 s, where a ``bytes.count(b"{")``
    and then orjson in front of the parse took 0.085 s and 0.46 s; ordinary bodies now pay one
    ``len`` instead of that count (a Codex-sized body: ~0.5 M instructions, callgrind)."""
    limits: Limits | None = getattr(request.app.state, "limits", None)
    if limits is None:
        return model
    # Whether ``model`` has an ``input`` at all is asked once, in the cached builder: pydantic's
    # ``model_fields`` is a descriptor call, ~6 µs of a stream's path to the upstream call with
    # this function's other lookups, cold (clock marks).
    return _with_item_limit(model, limits.max_input_items)


class _ItemCap(KeyedJson):
    """The item count of a bounded model (its ``input`` also keeps ``max_length``: the bound
    holds on every way in, this is the cheap one)."""

    max_input_items: ClassVar[int] = 0

    @classmethod
    def refuse_parsed(cls, data: Any) -> None:
        items = data.get("input") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) > cls.max_input_items:
            raise too_many_items(cls.max_input_items)


def too_many_items(cap: int) -> InvalidRequest:
    return InvalidRequest(
        f"Too many input items: at most {cap} are accepted.",
        param="input",
        code="too_many_input_items",
    )


@functools.cache
def _with_item_limit(model: type[Model], max_items: int) -> type[Model]:
    if "input" not in model.model_fields:
        return model
    field = model.model_fields["input"]
    annotation = field.annotation
    branches = tuple(
        Annotated[branch, Field(max_length=max_items)] if get_origin(branch) is list else branch
        for branch in get_args(annotation) or (annotation,)
    )
    bounded: Any = Union[branches]  # noqa: UP007 (a runtime union of computed branches)
    default = ... if field.is_required() else field.default  # /compact's input is optional
    bases: tuple[type[Model], ...] = (model, cast(type[Model], _ItemCap))
    capped = create_model(model.__name__, __base__=bases, input=(bounded, default))
    cast(Any, capped).max_input_items = max_items
    return cast(type[Model], capped)


async def read_body(request: Request) -> bytes:
    """The plain body: the bytes ``RequestBodies`` already read, else Starlette's read of it.
    Reading them again through ``Request.body()`` (the replayed message, its async generator,
    a join) cost 0.012 M instructions of a 0.82 M ``store: false`` request (callgrind)."""
    raw = request.scope.get(BODY)
    return raw if isinstance(raw, bytes) else await request.body()


class BodyRefused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(
        413,
        f"The request body is larger than {limit} bytes (after decompression).",
        "request_too_large",
    )


class _Sink:
    """Collects decompressed output, refusing past ``limit`` as soon as it is crossed."""

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.parts = limit, 0, list[bytes]()

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.limit)
        self.parts.append(data)
        return len(data)


class _Zlib:
    errors: tuple[type[Exception], ...] = (zlib.error,)  # the body is not valid data

    def __init__(self, sink: _Sink, wbits: int) -> None:
        self._sink, self._inflate = sink, zlib.decompressobj(wbits)

    def feed(self, chunk: bytes) -> None:
        data = chunk
        while data:
            # Never more output than the limit allows, plus one byte to see it crossed.
            out = self._inflate.decompress(data, self._sink.limit - self._sink.size + 1)
            self._sink.write(out)
            data = self._inflate.unconsumed_tail

    def finish(self) -> None:
        self._sink.write(self._inflate.flush())
        if not self._inflate.eof:
            raise zlib.error("truncated stream")


class _Zstd:
    def __init__(self, sink: _Sink) -> None:
        import zstandard  # at the first zstd body: it costs every process 0.3 MB of RSS otherwise

        self.errors = (zstandard.ZstdError,)
        # The writer hands the sink at most 64 KiB at a time, so the limit bounds memory.
        self._writer = zstandard.ZstdDecompressor().stream_writer(
            cast(IO[bytes], sink), write_size=65536, write_return_read=True, closefd=False
        )

    def feed(self, chunk: bytes) -> None:
        self._writer.write(chunk)

    def finish(self) -> None:
        self._writer.flush()  # type: ignore[no-untyped-call]


class _Plain:
    def __init__(self, sink: _Sink) -> None:
        self._sink = sink

    def feed(self, chunk: bytes) -> None:
        self._sink.write(chunk)

    def finish(self) -> None:
        return None


_DECODERS: dict[bytes, Callable[[_Sink], _Zlib | _Zstd]] = {
    b"gzip": lambda sink: _Zlib(sink, 16 + zlib.MAX_WBITS),
    b"x-gzip": lambda sink: _Zlib(sink, 16 + zlib.MAX_WBITS),
    b"deflate": lambda sink: _Zlib(sink, zlib.MAX_WBITS),
    b"zstd": _Zstd,
}


class RequestBodies:
    """The middleware (see the module docstring); every other message passes through."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        try:
            scope, body = await self._read(scope, receive)
        except BodyRefused as refused:
            await _refuse(send, refused)
            return
        except _Disconnected:
            return
        scope[BODY] = body
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> tuple[Scope, bytes]:
        limit = self.limits.max_request_bytes
        length, encoding = b"", b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-encoding":
                encoding = value.strip().lower()
        if length.isdigit() and int(length) > limit:
            raise _too_large(limit)
        if encoding in (b"", b"identity"):
            return scope, await _read_plain(receive, limit)
        kept = [(k, v) for k, v in scope["headers"] if k != b"content-encoding"]
        return {**scope, "headers": kept}, await _decode(receive, encoding, limit)


async def _read_plain(receive: Receive, limit: int) -> bytes:
    """The common case, a body in one message, costs no decoder."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise _Disconnected
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise _too_large(limit)
        return body
    sink = _Sink(limit)
    sink.write(body)
    await _pump(receive, _Plain(sink))
    return b"".join(sink.parts)


async def _decode(receive: Receive, encoding: bytes, limit: int) -> bytes:
    make = _DECODERS.get(encoding)
    if make is None:
        raise BodyRefused(
            415,
            f"Unsupported Content-Encoding '{encoding.decode('latin-1')[:32]}': "
            "send gzip, deflate, zstd or an uncompressed body.",
            "unsupported_content_encoding",
        )
    sink = _Sink(limit)
    decoder = make(sink)
    try:
        await _pump(receive, decoder)
        decoder.finish()
    except decoder.errors:
        raise BodyRefused(
            400,
            f"The request body is not valid {encoding.decode('latin-1')[:32]} data.",
            "invalid_content_encoding",
        ) from None
    return b"".join(sink.parts)


class _Disconnected(Exception):
    pass


async def _pump(receive: Receive, decoder: _Plain | _Zlib | _Zstd) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        decoder.feed(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(send: Send, refused: BodyRefused) -> None:
    body = orjson.dumps(
        error_envelope(refused.message, "invalid_request_error", None, refused.code)
    )
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
