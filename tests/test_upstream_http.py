"""The upstream HTTP client's own cases, against a raw socket server: the body framings (length,
chunked, to the close), keep-alive reuse and its refusal, a cut answer, deadlines, and the pool's
hand-over to a waiting call."""

from __future__ import annotations

import asyncio

import pytest

from responses_gateway.upstream_http import (
    PoolTimeout,
    ReadTimeout,
    ServerDisconnected,
    Timeouts,
    TotalTimeout,
    UpstreamHttp,
)

pytestmark = pytest.mark.anyio
FAST = Timeouts(connect=1.0, sock_connect=1.0, read=1.0, total=5.0)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


async def _serve(answers: list[bytes], *, then_close: bool = False, delay: float = 0.0):  # type: ignore[no-untyped-def]
    """A server answering each request with the next of ``answers``; the connections it saw."""
    seen: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(1)
        try:
            while answers:
                await _read_request(reader)
                await asyncio.sleep(delay)
                writer.write(answers.pop(0))
                await writer.drain()
                if then_close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1", seen


def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%b\r\n%b" % (len(body), extra, body)


async def _body(client: UpstreamHttp, path: str = "x") -> tuple[int, bytes]:
    answer = await client.request("POST", path, b"{}")
    try:
        return answer.status, await answer.read()
    finally:
        answer.release()


async def _chunks(client: UpstreamHttp) -> list[bytes]:
    answer = await client.request("GET", "models")
    return [chunk async for chunk in answer.chunks()]


async def test_a_kept_alive_connection_is_reused() -> None:
    server, url, seen = await _serve([_ok(b"one"), _ok(b"two")])
    client = UpstreamHttp(url, FAST, 4, {})
    assert await _body(client) == (200, b"one")
    assert await _body(client) == (200, b"two")
    assert len(seen) == 1
    await client.aclose()
    server.close()


async def test_connection_close_is_not_reused() -> None:
    server, url, seen = await _serve(
        [_ok(b"one", b"connection: close\r\n"), _ok(b"two")], then_close=True
    )
    client = UpstreamHttp(url, FAST, 4, {})
    assert await _body(client) == (200, b"one")
    assert await _body(client) == (200, b"two")
    assert len(seen) == 2
    server.close()


async def test_chunked_and_until_close_bodies() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    server, url, _ = await _serve([chunked])
    assert b"".join(await _chunks(UpstreamHttp(url, FAST, 1, {}))) == b"abcde"
    server.close()
    server, url, _ = await _serve([b"HTTP/1.1 200 OK\r\n\r\nto the end"], then_close=True)
    assert b"".join(await _chunks(UpstreamHttp(url, FAST, 1, {}))) == b"to the end"
    server.close()


async def test_an_answer_cut_short_is_an_error() -> None:
    server, url, _ = await _serve(
        [b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part"], then_close=True
    )
    with pytest.raises(ServerDisconnected):
        await _body(UpstreamHttp(url, FAST, 1, {}))
    server.close()


async def test_read_and_total_deadlines() -> None:
    server, url, _ = await _serve([_ok(b"late")], delay=0.5)
    with pytest.raises(ReadTimeout):
        await _body(UpstreamHttp(url, Timeouts(1.0, 1.0, 0.1, 5.0), 1, {}))
    server.close()
    server, url, _ = await _serve([_ok(b"late")], delay=0.5)
    with pytest.raises(TotalTimeout):
        await _body(UpstreamHttp(url, Timeouts(1.0, 1.0, 5.0, 0.1), 1, {}))
    server.close()


async def test_the_pool_hands_a_released_connection_to_a_waiting_call() -> None:
    server, url, seen = await _serve([_ok(b"one"), _ok(b"two")], delay=0.1)
    client = UpstreamHttp(url, FAST, 1, {})
    results = await asyncio.gather(_body(client), _body(client))
    assert sorted(body for _, body in results) == [b"one", b"two"]
    assert len(seen) == 1
    server.close()


async def test_a_full_pool_times_out_and_a_cancelled_waiter_frees_nothing() -> None:
    server, url, _ = await _serve([_ok(b"one"), _ok(b"two")], delay=0.3)
    client = UpstreamHttp(url, Timeouts(0.1, 1.0, 5.0, 5.0), 1, {})
    first = asyncio.ensure_future(_body(client))
    await asyncio.sleep(0.05)
    with pytest.raises(PoolTimeout):
        await _body(client)
    waiting = asyncio.ensure_future(_body(client))
    await asyncio.sleep(0.01)
    waiting.cancel()
    assert await first == (200, b"one")
    assert await _body(client) == (200, b"two")  # the place is still there
    server.close()
