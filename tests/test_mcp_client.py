"""MCP client and egress guard against real MCP servers on loopback sockets."""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpcore2
import httpx2
import pytest

from responses_gateway.config import Settings
from responses_gateway.mcp import (
    EgressPolicy,
    McpListError,
    McpParams,
    McpServer,
    McpUrlRefused,
    egress,
)
from responses_gateway.mcp.calls import truncate_utf8
from responses_gateway.mcp.client import McpSessions
from responses_gateway.mcp.egress import (
    BodyTooLarge,
    CappedTransport,
    EgressDenied,
    GuardedBackend,
    IPAddress,
    build_http_client,
    vet_server_url,
)
from tests.support.mcp_servers import McpTestServers, running_mcp_servers

pytestmark = pytest.mark.anyio

LOOPBACK_OK = EgressPolicy(allow_private_networks=True)
AUTH = (("Authorization", "Bearer sekrit-token"), ("X-Test", "x-value"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def shared_servers() -> Iterator[McpTestServers]:
    with running_mcp_servers() as servers:
        yield servers


@pytest.fixture
def servers(shared_servers: McpTestServers) -> McpTestServers:
    shared_servers.reset()
    return shared_servers


@pytest.fixture
def params() -> McpParams:
    return McpParams(
        policy=LOOPBACK_OK,
        call_timeout=2.0,
        connect_timeout=2.0,
        list_timeout=5.0,
        max_output_bytes=1024,
    )


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A port that accepts TCP connections (kernel backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"


def fake_resolver(*answers: str) -> Any:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(answer) for answer in answers]

    return resolve


# --- listing ---------------------------------------------------------------------------------


async def test_list_tools_over_streamable_http(servers: McpTestServers, params: McpParams) -> None:
    async with McpSessions(params) as sessions:
        tools = await sessions.list_tools(McpServer("main", servers.streamable_url))
    by_name = {tool["name"]: tool for tool in tools}
    assert {"add", "fail", "echo_auth", "big", "slow", "lookup"} <= set(by_name)
    assert by_name["add"]["description"] == "Add two integers."
    assert by_name["add"]["input_schema"]["properties"].keys() == {"a", "b"}
    # No annotations, so no key (the Vercel AI SDK refuses "annotations": null).
    assert set(by_name["add"]) == {"name", "input_schema", "description"}
    assert servers.sse.requests == []


async def test_annotations_map_read_only_hint(servers: McpTestServers, params: McpParams) -> None:
    async with McpSessions(params) as sessions:
        tools = await sessions.list_tools(McpServer("main", servers.streamable_url))
    by_name = {tool["name"]: tool for tool in tools}
    assert by_name["lookup"]["annotations"] == {"read_only": True}
    assert "annotations" not in by_name["add"]


async def test_auto_falls_back_to_sse_on_405(servers: McpTestServers, params: McpParams) -> None:
    async with McpSessions(params) as sessions:
        server = McpServer("legacy", servers.sse_url)
        tools = await sessions.list_tools(server)
        outcome = await sessions.call_tool(server, "add", {"a": 2, "b": 3})
    assert "add" in {tool["name"] for tool in tools}
    assert outcome.output == "5"
    assert servers.sse.http_methods()[:2] == ["POST", "GET"]  # the probe got 405, then SSE


async def test_explicit_sse_transport_skips_the_probe(
    servers: McpTestServers, params: McpParams
) -> None:
    async with McpSessions(params) as sessions:
        await sessions.list_tools(McpServer("legacy", servers.sse_url, transport="sse"))
    assert servers.sse.requests[0].method == "GET"
    assert servers.sse.rpc_count("initialize") == 1


async def test_401_does_not_fall_back(servers: McpTestServers, params: McpParams) -> None:
    async with McpSessions(params) as sessions:
        with pytest.raises(McpListError) as caught:
            await sessions.list_tools(McpServer("locked", servers.unauthorized_url, headers=AUTH))
    assert str(caught.value) == (
        "Error retrieving tool list from MCP server: 'locked'. Http status code: 401 (Unauthorized)"
    )
    assert caught.value.server_label == "locked"
    assert "sekrit" not in str(caught.value)
    assert servers.unauthorized.http_methods() == ["POST"]  # no GET: no SSE fallback


async def test_unreachable_port_gives_list_error(params: McpParams) -> None:
    with socket.socket() as sock:  # bound, not listening: connection refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        async with McpSessions(params) as sessions:
            server = McpServer("gone", url)
            with pytest.raises(McpListError, match="connection failed"):
                await sessions.list_tools(server)
            outcome = await sessions.call_tool(server, "add", {"a": 1, "b": 2})
    assert outcome.output is None
    assert outcome.error == {
        "type": "mcp_protocol_error",
        "code": -32000,
        "message": "connection failed",
    }


async def test_list_timeout_and_prompt_exit_on_hanging_server(hanging_url: str) -> None:
    params = McpParams(policy=LOOPBACK_OK, list_timeout=0.5, connect_timeout=0.5)
    started = time.monotonic()
    async with McpSessions(params) as sessions:
        with pytest.raises(McpListError, match="timed out"):
            await sessions.list_tools(McpServer("hang", hanging_url))
    assert time.monotonic() - started < 2.0


# --- calls -----------------------------------------------------------------------------------


async def test_call_success(servers: McpTestServers, params: McpParams) -> None:
    async with McpSessions(params) as sessions:
        outcome = await sessions.call_tool(
            McpServer("main", servers.streamable_url), "add", {"a": 2, "b": 3}
        )
    assert outcome.output == "5"
    assert outcome.error is None


async def test_tool_error_is_execution_error(servers: McpTestServers, params: McpParams) -> None:
    async with McpSessions(params) as sessions:
        outcome = await sessions.call_tool(
            McpServer("main", servers.streamable_url), "fail", {"msg": "nope"}
        )
    assert outcome.output is None
    assert outcome.error == {
        "type": "mcp_tool_execution_error",
        "content": [{"type": "text", "text": "Error executing tool fail: nope"}],
    }


async def test_slow_tool_times_out_and_session_stays_usable(
    servers: McpTestServers, params: McpParams
) -> None:
    params = McpParams(policy=LOOPBACK_OK, call_timeout=0.5)
    server = McpServer("main", servers.streamable_url)
    async with McpSessions(params) as sessions:
        slow = await sessions.call_tool(server, "slow", {"seconds": 3})
        after = await sessions.call_tool(server, "add", {"a": 1, "b": 1})
    assert slow.error == {
        "type": "mcp_protocol_error",
        "code": -32001,
        "message": "Request 'tools/call' timed out",
    }
    assert after.output == "2"
    assert servers.streamable.rpc_count("initialize") == 1


async def test_big_output_is_truncated_utf8_safely(
    servers: McpTestServers, params: McpParams
) -> None:
    async with McpSessions(params) as sessions:
        outcome = await sessions.call_tool(
            McpServer("main", servers.streamable_url), "big", {"n": 5001}
        )
    assert outcome.output is not None
    head, marker = outcome.output.split("\n…[", 1)
    assert head == "é" * 512  # 1024 bytes, cut between characters
    assert marker == "output truncated by responses-gateway: 3976 bytes omitted]"


async def test_non_text_content_becomes_a_placeholder(
    servers: McpTestServers, params: McpParams
) -> None:
    async with McpSessions(params) as sessions:
        outcome = await sessions.call_tool(McpServer("main", servers.streamable_url), "picture", {})
    assert outcome.output == '{"type": "image", "mime_type": "image/png"}'
    (image,) = outcome.images  # for the model, in the response that made the call
    assert image.startswith("data:image/png;base64,")


@pytest.mark.parametrize("transport", ["streamable", "sse"])
async def test_headers_reach_the_server(
    servers: McpTestServers, params: McpParams, transport: str
) -> None:
    url = servers.streamable_url if transport == "streamable" else servers.sse_url
    async with McpSessions(params) as sessions:
        outcome = await sessions.call_tool(McpServer("main", url, headers=AUTH), "echo_auth", {})
    assert outcome.output is not None
    assert '"authorization": "Bearer sekrit-token"' in outcome.output
    assert '"x_test": "x-value"' in outcome.output


async def test_call_on_http_error_gives_http_error(
    servers: McpTestServers, params: McpParams
) -> None:
    async with McpSessions(params) as sessions:
        outcome = await sessions.call_tool(McpServer("locked", servers.unauthorized_url), "add", {})
    assert outcome.error == {"type": "http_error", "code": 401, "message": "401 (Unauthorized)"}


async def test_call_without_listing_sends_no_tools_list(
    servers: McpTestServers, params: McpParams
) -> None:
    async with McpSessions(params) as sessions:
        outcome = await sessions.call_tool(
            McpServer("main", servers.streamable_url), "add", {"a": 2, "b": 2}
        )
    assert outcome.output == "4"
    assert servers.streamable.rpc_count("tools/call") == 1
    assert servers.streamable.rpc_count("tools/list") == 0


async def test_session_reused_across_list_and_calls_and_closed(
    servers: McpTestServers, params: McpParams
) -> None:
    first = McpServer("one", servers.streamable_url, headers=AUTH)
    alias = McpServer("two", servers.streamable_url, headers=AUTH)  # same url+headers: same session
    async with McpSessions(params) as sessions:
        await sessions.list_tools(first)
        await sessions.call_tool(first, "add", {"a": 1, "b": 2})
        await sessions.call_tool(alias, "lookup", {"key": "k"})
        assert servers.streamable.rpc_count("initialize") == 1
        assert "DELETE" not in servers.streamable.http_methods()
    assert servers.streamable.rpc_count("tools/list") == 1
    assert servers.streamable.http_methods()[-1] == "DELETE"


async def test_parallel_calls_share_one_session(servers: McpTestServers, params: McpParams) -> None:
    server = McpServer("main", servers.streamable_url)
    results: list[str | None] = []

    async def call() -> None:
        results.append((await sessions.call_tool(server, "slow", {"seconds": 0.4})).output)

    started = time.monotonic()
    async with McpSessions(params) as sessions, anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(call)
    assert results == ["done"] * 4
    assert time.monotonic() - started < 1.5
    assert servers.streamable.rpc_count("initialize") == 1


async def test_colliding_tool_names_stay_per_server(
    servers: McpTestServers, params: McpParams
) -> None:
    main = McpServer("main", servers.streamable_url)
    other = McpServer("other", servers.other_streamable_url)
    async with McpSessions(params) as sessions:
        main_tools = {tool["name"] for tool in await sessions.list_tools(main)}
        other_tools = {tool["name"] for tool in await sessions.list_tools(other)}
        summed = await sessions.call_tool(main, "add", {"a": 2, "b": 3})
        joined = await sessions.call_tool(other, "add", {"x": "a", "y": "b"})
    assert "add" in main_tools & other_tools
    assert (summed.output, joined.output) == ("5", "ab")


async def test_cancelling_the_request_closes_sessions_promptly(
    servers: McpTestServers, params: McpParams, hanging_url: str
) -> None:
    deletes_before = servers.streamable.http_methods().count("DELETE")
    started = time.monotonic()
    with anyio.move_on_after(0.5):
        async with McpSessions(params) as sessions, anyio.create_task_group() as tg:
            tg.start_soon(
                sessions.call_tool,
                McpServer("main", servers.streamable_url),
                "slow",
                {"seconds": 5},
            )
            tg.start_soon(sessions.list_tools, McpServer("hang", hanging_url))
    assert time.monotonic() - started < 2.0
    # The close is shielded; a cancellation notice may race it, so count rather than take the last.
    assert servers.streamable.http_methods().count("DELETE") == deletes_before + 1


async def test_settings_are_accepted(servers: McpTestServers) -> None:
    settings = Settings(mcp_allow_private_networks=True, mcp_call_timeout=2.0)
    async with McpSessions(settings) as sessions:
        outcome = await sessions.call_tool(
            McpServer("main", servers.streamable_url), "add", {"a": 0, "b": 0}
        )
    assert outcome.output == "0"


# --- egress ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/mcp",
        "http://localhost:8080/mcp",
        "http://10.0.0.1/mcp",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/mcp",
        "http://[::1]/mcp",
        "http://100.100.100.200/mcp",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "ftp://example.com/mcp",
        "http://user:pass@example.com/mcp",
        "http:///mcp",
        "http://example.com:99999/mcp",
        "not a url",
    ],
)
async def test_vet_refuses(url: str) -> None:
    with pytest.raises(McpUrlRefused) as caught:
        await vet_server_url(url, EgressPolicy())
    assert "is not allowed" in str(caught.value)
    assert "pass" not in str(caught.value)  # userinfo is redacted


async def test_vet_message_does_not_reveal_the_resolved_address() -> None:
    with pytest.raises(McpUrlRefused) as caught:
        await vet_server_url("http://localhost:9/mcp", EgressPolicy())
    assert str(caught.value) == "MCP server URL 'http://localhost:9/mcp' is not allowed"


async def test_vet_refuses_if_any_answer_is_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(egress, "resolve", fake_resolver("93.184.216.34", "10.1.2.3"))
    with pytest.raises(McpUrlRefused) as caught:
        await vet_server_url("https://mcp.example.com/mcp", EgressPolicy())
    assert "10.1.2.3" not in str(caught.value)


async def test_vet_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(egress, "resolve", fake_resolver("93.184.216.34"))
    policy = EgressPolicy(allowed_hosts=("mcp.example.com",))
    await vet_server_url("https://MCP.example.com./mcp", policy)
    with pytest.raises(McpUrlRefused):
        await vet_server_url("https://evil.example.com/mcp", policy)


async def test_vet_unresolvable_host_is_refused() -> None:
    with pytest.raises(McpUrlRefused):
        await vet_server_url("http://does-not-exist.invalid/mcp", EgressPolicy())


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/mcp", "http://localhost:9/mcp"])
async def test_allow_private_networks_lifts_the_address_check(url: str) -> None:
    await vet_server_url(url, LOOPBACK_OK)


def test_policy_from_settings() -> None:
    settings = Settings(
        mcp_allowed_hosts="MCP.Example.com., other.org", mcp_allow_private_networks=True
    )
    policy = EgressPolicy.from_settings(settings)
    assert policy == EgressPolicy(True, ("mcp.example.com", "other.org"))


async def test_guarded_backend_blocks_loopback_even_without_vetting(
    servers: McpTestServers, params: McpParams
) -> None:
    strict = McpParams(policy=EgressPolicy(), list_timeout=5.0)
    async with McpSessions(strict) as sessions:
        with pytest.raises(McpListError, match="connection failed"):
            await sessions.list_tools(McpServer("main", servers.streamable_url))
    assert servers.streamable.requests == []
    client = build_http_client(
        headers=None, policy=EgressPolicy(), connect_timeout=1, read_timeout=1, max_body_bytes=100
    )
    async with client:
        with pytest.raises(httpx2.ConnectError, match="not allowed"):
            await client.get(servers.streamable_url)


async def test_guarded_backend_pins_against_rebinding() -> None:
    backend = GuardedBackend(EgressPolicy(), resolver=fake_resolver("93.184.216.34", "127.0.0.1"))
    with pytest.raises(EgressDenied):
        await backend.connect_tcp("rebind.example.com", 80)
    with pytest.raises(EgressDenied):
        await backend.connect_unix_socket("/var/run/docker.sock")


async def test_cross_origin_redirect_does_not_leak_authorization(
    servers: McpTestServers, params: McpParams
) -> None:
    async with McpSessions(params) as sessions:
        with pytest.raises(McpListError):
            await sessions.list_tools(McpServer("redir", servers.redirect_url, headers=AUTH))
    assert servers.redirect.http_methods() == ["POST"]
    assert servers.sink.requests == []  # the other origin never saw the request nor its headers


async def test_status_log_and_body_cap() -> None:
    log = egress.HttpStatusLog()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(500, content=b"x" * 100)

    client = httpx2.AsyncClient(
        transport=CappedTransport(httpx2.MockTransport(handler), 10),
        event_hooks={"response": [log.hook]},
    )
    async with client:
        with pytest.raises(BodyTooLarge):
            await client.get("http://example.com/")
    assert log.last == 500


def test_truncate_utf8() -> None:
    assert truncate_utf8("abc", 3) == "abc"
    assert truncate_utf8("aé", 2) == "a\n…[output truncated by responses-gateway: 2 bytes omitted]"


def test_egress_denied_is_a_connect_error() -> None:
    assert issubclass(EgressDenied, httpcore2.ConnectError)
