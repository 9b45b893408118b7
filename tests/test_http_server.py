"""``http_server.HeadWithBody`` on a real loopback socket: a response's head is held only until
its first body bytes or the end of the loop's pass, and nothing held is lost at a close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from responses_gateway.http_server import HeadWithBody
from tests.conftest import Gateway

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Reader(asyncio.Protocol):
    """The client's end: every byte it reads, and whether the connection ended."""

    def __init__(self) -> None:
        self.data = b""
        self.ended = asyncio.Event()
        self.more = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.more.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended.set()

    async def read_until(self, size: int) -> bytes:
        async with asyncio.timeout(5):
            while len(self.data) < size:
                self.more.clear()
                await self.more.wait()
        return self.data


@pytest.fixture
async def wire() -> AsyncIterator[tuple[HeadWithBody, Reader]]:
    loop = asyncio.get_running_loop()
    reader = Reader()
    server = await loop.create_server(lambda: reader, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    yield HeadWithBody(transport, loop), reader
    transport.close()
    server.close()


@pytest.mark.parametrize(
    ("writes", "pause_after_head"),
    [
        ([b"HTTP/1.1 200 OK\r\n\r\n"], False),  # no body after it: out at the pass's end
        ([b"head\r\n\r\n", b"x" * 100_000], False),  # one pass: together, in order
        ([b"HEAD;", b"BODY;", b"MORE;"], True),  # nothing within the pass: the head went alone
    ],
)
async def test_what_is_written_arrives_whole_and_in_order(
    wire: tuple[HeadWithBody, Reader], writes: list[bytes], pause_after_head: bool
) -> None:
    out, reader = wire
    head, *body = writes
    out.write(head)
    if pause_after_head:
        await asyncio.sleep(0.05)
    for data in body:
        out.write(data)
    await asyncio.sleep(0)
    expected = b"".join(writes)
    assert await reader.read_until(len(expected)) == expected


async def test_a_close_writes_what_is_held(wire: tuple[HeadWithBody, Reader]) -> None:
    out, reader = wire
    out.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    out.close()
    assert out.is_closing()
    async with asyncio.timeout(5):
        await reader.ended.wait()
    assert reader.data == b"HTTP/1.1 204 No Content\r\n\r\n"


def test_answers_name_no_server(gateway: Gateway) -> None:
    """Through the gateway's own uvicorn: no ``server`` header; a JSON answer arrives whole."""
    answer = httpx.get(gateway.url + "/healthz", headers={"x-forwarded-for": "203.0.113.9"})
    assert answer.status_code == 200
    assert "server" not in answer.headers
    assert "date" in answer.headers
    assert int(answer.headers["content-length"]) == len(answer.content) > 0
