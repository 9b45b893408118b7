"""Size, count and time limits (issue 8's D10, D11, D12, D13, D16; issue 7's compressed bodies),
on a gateway with small limits, over real sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import socket
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import zstandard

from responses_gateway.app import create_app
from tests.conftest import Gateway, custom_gateway, gateway_settings
from tests.support.serving import serve_in_thread
from tests.support.upstream import ScriptedUpstream

LIMIT = 64 * 1024
ITEMS = 50


@pytest.fixture(scope="module")
def limited(database_url: str, upstream_server: ScriptedUpstream) -> Iterator[Gateway]:
    with custom_gateway(
        database_url,
        upstream_server.base_url,
        max_request_bytes=LIMIT,
        max_input_items=ITEMS,
        header_timeout=0.5,
        body_timeout=0.5,
        mcp_allow_private_networks=False,
    ) as running:
        yield running


def _post(gateway: Gateway, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        gateway.base_url + "/responses",
        content=content,
        headers={"content-type": "application/json", **headers},
        timeout=30,
    )


def _body(text: str = "hi", **extra: Any) -> bytes:
    return orjson.dumps({"model": "m", "input": text, **extra})


def _error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    return error


def test_a_large_body_is_refused_by_its_length(
    limited: Gateway, upstream: ScriptedUpstream
) -> None:
    answer = _post(limited, _body("x" * LIMIT))
    _error(answer, 413, "request_too_large")
    assert answer.headers["connection"] == "close"
    assert upstream.requests == []


def test_a_large_chunked_body_is_refused_while_reading(
    limited: Gateway, upstream: ScriptedUpstream
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "m", "input": "'
        for _ in range(LIMIT // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    answer = httpx.post(limited.base_url + "/responses", content=chunks(), timeout=30)
    _error(answer, 413, "request_too_large")
    assert upstream.requests == []


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("zstd", lambda data: zstandard.ZstdCompressor().compress(data)),
    ],
)
def test_compressed_bodies_are_decompressed(
    limited: Gateway, upstream: ScriptedUpstream, encoding: str, compress: Any
) -> None:
    answer = _post(limited, compress(_body("compressed hello")), **{"content-encoding": encoding})
    assert answer.status_code == 200, answer.text
    assert upstream.last["messages"] == [{"role": "user", "content": "compressed hello"}]


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("zstd", lambda data: zstandard.ZstdCompressor().compress(data))],
)
def test_a_decompression_bomb_stops_at_the_limit(
    limited: Gateway, upstream: ScriptedUpstream, encoding: str, compress: Any
) -> None:
    """The limit applies to the decompressed size: 64 MiB of zeros, sent as a few KiB."""
    bomb = compress(_body("0" * (64 * 1024 * 1024)))
    assert len(bomb) < LIMIT
    _error(_post(limited, bomb, **{"content-encoding": encoding}), 413, "request_too_large")
    assert upstream.requests == []


def test_unknown_and_corrupt_encodings(limited: Gateway) -> None:
    _error(
        _post(limited, _body(), **{"content-encoding": "br"}), 415, "unsupported_content_encoding"
    )
    corrupt = _post(limited, b"not gzip at all", **{"content-encoding": "gzip"})
    _error(corrupt, 400, "invalid_content_encoding")


def test_too_many_input_items(limited: Gateway, upstream: ScriptedUpstream) -> None:
    items = [{"role": "user", "content": "x"}] * (ITEMS + 1)
    error = _error(_post(limited, _body(items)), 400, "too_many_input_items")  # type: ignore[arg-type]
    assert error["param"] == "input" and str(ITEMS) in error["message"]
    answer = _post(limited, _body([{"role": "user", "content": "x"}] * ITEMS))  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("path", ["/responses", "/responses/input_tokens", "/responses/compact"])
def test_every_route_with_input_counts_its_items(
    limited: Gateway, upstream: ScriptedUpstream, path: str
) -> None:
    """Counted on the parsed body, before anything is validated: an unknown tool type (the
    keyed parse's fallback) or a missing model changes nothing."""
    items = [{"role": "user", "content": "x"}] * (ITEMS + 1)
    for body in (
        _body(items),  # type: ignore[arg-type]
        _body(items, tools=[{"type": "no_such_tool"}]),  # type: ignore[arg-type]
        orjson.dumps({"input": items}),
    ):
        answer = httpx.post(limited.base_url + path, content=body, timeout=30)
        error = _error(answer, 400, "too_many_input_items")
        assert error["param"] == "input"
        assert error["message"] == f"Too many input items: at most {ITEMS} are accepted."
    assert upstream.requests == []


def test_200000_items_are_refused_on_the_default_limit(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    """D11: refused after one parse, before any item is validated or looked at."""
    items = [{"role": "user", "content": "x"}] * 200_000
    _error(_post(gateway, _body(items)), 400, "too_many_input_items")  # type: ignore[arg-type]
    assert upstream.requests == []


def test_more_references_than_a_statement_can_bind(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    """D16: > 32,767 item_reference ids are bounded before any query, and a legit number of
    them is looked up in batches (the drivers cap a statement's parameters)."""
    too_many = [{"type": "item_reference", "id": f"msg_{n}"} for n in range(32_768)]
    _error(_post(gateway, _body(too_many)), 400, "too_many_input_items")  # type: ignore[arg-type]
    created = httpx.post(gateway.base_url + "/responses", json={"model": "m", "input": "q"})
    stored = created.json()["output"][0]["id"]
    references = [{"type": "item_reference", "id": f"msg_{n}"} for n in range(2_500)]
    references.append({"type": "item_reference", "id": stored})
    missing = _post(gateway, _body(references))  # type: ignore[arg-type]
    assert missing.status_code == 400, missing.text
    assert missing.json()["error"]["param"] == "input[0].id"
    found = _post(gateway, _body([*references[-1:], {"role": "user", "content": "go"}]))  # type: ignore[arg-type]
    assert found.status_code == 200, found.text


def test_ssrf_through_ipv4_compatible_and_translated_addresses(limited: Gateway) -> None:
    """D9: IPv6 spellings of loopback and the metadata address are refused before any event."""
    for host in (
        "[::127.0.0.1]",
        "[::ffff:0:127.0.0.1]",
        "[::a9fe:a9fe]",
        "[::ffff:169.254.169.254]",
    ):
        tool = {"type": "mcp", "server_label": "s", "server_url": f"http://{host}/mcp"}
        answer = _post(limited, _body(tools=[tool]))
        assert answer.status_code == 400, (host, answer.text)
        assert "not allowed" in answer.json()["error"]["message"]


def _raw(gateway: Gateway) -> socket.socket:
    host, port = gateway.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def test_a_connection_that_sends_nothing_is_closed(limited: Gateway) -> None:
    with _raw(limited) as sock:
        answer = sock.recv(65536)  # blocks until the header deadline (0.5 s) closes it
        assert answer.startswith(b"HTTP/1.1 408")
        assert sock.recv(65536) == b""


def test_slowloris_headers_are_cut_off(limited: Gateway) -> None:
    with _raw(limited) as sock:
        sock.sendall(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n")
        sock.settimeout(5)
        answer = sock.recv(65536)  # the headers never finish
        assert b"408" in answer.split(b"\r\n")[0]


def test_a_body_that_never_arrives_is_a_408(limited: Gateway) -> None:
    with _raw(limited) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100\r\n\r\n{"
        )
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408") and b'"request_timeout"' in answer


def test_oversized_headers_are_a_431(limited: Gateway) -> None:
    with _raw(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: " + b"a" * 70_000 + b"\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 431")


def test_after_an_unhandled_error_the_next_request_works(
    database_url: str, upstream_server: ScriptedUpstream
) -> None:
    """D13: a 500 says ``Connection: close``, so a keep-alive client does not reuse the socket
    uvicorn is closing."""
    app = create_app(gateway_settings(database_url, upstream_server.base_url))

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with serve_in_thread(app) as url, httpx.Client(base_url=url) as client:
        for _ in range(3):
            failed = client.get("/boom")
            assert failed.status_code == 500 and failed.headers["connection"] == "close"
            assert failed.json()["error"]["type"] == "server_error"
            assert client.get("/healthz").status_code == 200


_HEALTH = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def _whole_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and ``content-length`` body): its head and body may come in two
    reads, and what is left would be taken for the next answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_deadlines_on_a_kept_alive_connection(limited: Gateway) -> None:
    """No deadline between requests; the next request's runs from its first byte."""
    with _raw(limited) as sock:
        sock.sendall(_HEALTH)
        assert _whole_answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(0.8)  # past the header deadline of the first request: still open
        sock.sendall(_HEALTH)
        assert _whole_answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(0.3)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        sent = time.monotonic()
        assert sock.recv(65536).startswith(b"HTTP/1.1 408")
        assert 0.4 < time.monotonic() - sent < 2


def test_a_header_deadline_shorter_than_the_body_one(
    database_url: str, upstream_server: ScriptedUpstream
) -> None:
    """The header deadline after a request is not held back by the longer body deadline."""
    with (
        custom_gateway(
            database_url, upstream_server.base_url, header_timeout=0.3, body_timeout=5
        ) as gateway,
        _raw(gateway) as sock,
    ):
        sock.sendall(_HEALTH)
        assert _whole_answer(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        sent = time.monotonic()
        assert sock.recv(65536).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - sent < 2
