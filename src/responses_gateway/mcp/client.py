"""MCP sessions for one Responses request: list tools, call tools, close everything on exit.

anyio requires a ``ClientSession`` and its transport to be entered and exited in the same task,
yet tools are called from several child tasks (parallel tool calls) long after the session was
opened. So each session gets an *owner* task in ``McpSessions``' task group: it opens the
transport and the session, signals ready (or the failure), waits for the close signal and exits.
Callers only ever use the session object, which is safe to share between tasks.

The owner runs in a shielded scope with its own deadlines, so cancelling the request (client
disconnect) still lets it send the session DELETE, but never for longer than ``CLOSE_GRACE``.

This module imports the MCP SDK (21 MB of RSS, measured): the serving path imports it only through
``mcp.open_sessions``, when a request first has an MCP tool.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from responses_gateway import __version__
from responses_gateway.mcp.calls import (
    CALL_GRACE,
    McpCallOutcome,
    McpListError,
    McpParams,
    McpServer,
    ServerKey,
    status_text,
    truncate_utf8,
)
from responses_gateway.mcp.egress import HttpStatusLog, build_http_client

if TYPE_CHECKING:
    from types import TracebackType

    from responses_gateway.config import Settings

logger = logging.getLogger("responses_gateway.mcp")
# The SDK's client logs endpoint URLs (paths and queries often carry tokens) and every JSON-RPC
# message at DEBUG/INFO; keep it at WARNING like httpx2/httpcore2 (see ``create_app``).
logging.getLogger("mcp.client").setLevel(logging.WARNING)

# The spec's back-compat rule (2025-11-25): fall back to HTTP+SSE only on these; 401/403 are auth.
FALLBACK_STATUSES = frozenset({400, 404, 405})
MAX_LIST_PAGES = 10
CLOSE_GRACE = 5.0  # seconds an owner may spend on DELETE and teardown
_SDK_HTTP_STAND_INS = frozenset(
    {"Server returned an error response", "Not Found", "Session terminated"}
)


class _ConnectFailed(Exception):
    """Why a session could not be opened (or died); ``reason`` is safe to show."""

    def __init__(
        self, reason: str, *, status: int | None = None, code: int = types.CONNECTION_CLOSED
    ):
        super().__init__(reason)
        self.reason, self.status, self.code = reason, status, code

    def outcome(self) -> McpCallOutcome:
        if self.status is not None:
            return McpCallOutcome.http_error(self.status)
        return McpCallOutcome.protocol_error(self.code, self.reason)


class _Connection:
    """One MCP session and its owner task (see the module docstring)."""

    def __init__(self, server: McpServer, params: McpParams) -> None:
        self.server, self.params = server, params
        self.statuses = HttpStatusLog()
        self.listed: set[str] = set()  # tool names listed in this session (output schemas known)
        self._scope = anyio.CancelScope(shield=True)
        self._ready, self._closing = anyio.Event(), anyio.Event()
        self._session: ClientSession | None = None
        self._failure: _ConnectFailed | None = None
        self._attempt_mark = 0  # status-log position when the current transport attempt began

    async def session(self) -> ClientSession:
        """The live session, once open; raises ``_ConnectFailed`` if it failed or died."""
        await self._ready.wait()
        if self._failure is not None:
            raise self._failure
        assert self._session is not None
        return self._session

    def shutdown(self) -> None:
        """Ask the owner to close: at once if still connecting, else within ``CLOSE_GRACE``."""
        self._closing.set()
        if self._session is None:
            self._scope.cancel()
        else:
            self._scope.deadline = min(self._scope.deadline, anyio.current_time() + CLOSE_GRACE)

    async def run(self) -> None:
        """The owner task: never raises, always sets ready."""
        self._scope.deadline = anyio.current_time() + self.params.list_timeout
        try:
            with self._scope:
                await self._serve()
        except Exception as exc:
            self._fail(_classify(exc, self.statuses, self._attempt_mark))
        except BaseExceptionGroup as group:  # errors mixed with our own scope's cancellation
            _, errors = group.split(anyio.get_cancelled_exc_class())
            self._fail(_classify(errors or group, self.statuses, self._attempt_mark))
        finally:
            if self._scope.cancelled_caught and self._session is None:
                self._fail(_ConnectFailed("timed out", code=types.REQUEST_TIMEOUT))
            # A no-op unless nothing else was recorded: later calls learn the session is gone.
            self._fail(_ConnectFailed("connection closed"))
            self._ready.set()

    def _fail(self, failure: _ConnectFailed) -> None:
        if self._failure is None:
            self._failure = failure
            logger.debug("MCP session %r ended: %s", self.server.label, failure.reason)

    async def _serve(self) -> None:
        kinds = ["streamable", "sse"] if self.server.transport == "auto" else ["sse"]
        for attempt, kind in enumerate(kinds, start=1):
            self._attempt_mark = self.statuses.mark()
            try:
                async with self._open(kind) as session:
                    await self._hold(session)
                return
            except Exception:
                if self._session is not None or attempt == len(kinds):
                    raise
                if self.statuses.since(self._attempt_mark) not in FALLBACK_STATUSES:
                    raise
                logger.debug("MCP server %r: falling back to HTTP+SSE", self.server.label)

    async def _hold(self, session: ClientSession) -> None:
        """Publish the session, then keep it open until asked to close."""
        self._session = session
        self._scope.deadline = math.inf
        self._ready.set()
        await self._closing.wait()
        self._scope.deadline = min(self._scope.deadline, anyio.current_time() + CLOSE_GRACE)

    @contextlib.asynccontextmanager
    async def _open(self, kind: str) -> AsyncIterator[ClientSession]:
        async with contextlib.AsyncExitStack() as stack:
            if kind == "streamable":
                http = await stack.enter_async_context(
                    self._http_client(self.params.connect_timeout)
                )
                streams = streamable_http_client(
                    self.server.url, http_client=http, max_sse_event_size=self.params.max_body_bytes
                )
            else:
                streams = sse_client(
                    self.server.url,
                    headers=dict(self.server.headers),
                    timeout=self.params.connect_timeout,
                    sse_read_timeout=self.params.read_timeout,
                    httpx_client_factory=self._sse_http_client,
                )
            read, write = await stack.enter_async_context(streams)
            session = ClientSession(
                read,
                write,
                read_timeout_seconds=self.params.list_timeout,
                client_info=types.Implementation(name="responses-gateway", version=__version__),
            )
            await stack.enter_async_context(session)
            await session.initialize()
            yield session

    def _http_client(self, connect_timeout: float) -> httpx2.AsyncClient:
        return build_http_client(
            headers=dict(self.server.headers),
            policy=self.params.policy,
            connect_timeout=connect_timeout,
            read_timeout=self.params.read_timeout,
            max_body_bytes=self.params.max_body_bytes,
            status_log=self.statuses,
        )

    def _sse_http_client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        """``McpHttpClientFactory`` for ``sse_client``; headers and timeouts are ours already."""
        return self._http_client(self.params.connect_timeout)


class McpSessions:
    """All MCP sessions of one Responses request; use as ``async with McpSessions(settings)``."""

    def __init__(self, params: Settings | McpParams) -> None:
        self._params = params if isinstance(params, McpParams) else McpParams.from_settings(params)
        self._connections: dict[ServerKey, _Connection] = {}
        self._task_group: TaskGroup | None = None

    async def __aenter__(self) -> McpSessions:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        for connection in self._connections.values():
            connection.shutdown()
        assert self._task_group is not None
        try:
            return await self._task_group.__aexit__(exc_type, exc, tb)
        except BaseExceptionGroup as group:
            # anyio wraps the body's own exception in a group; owners never raise, so a group of
            # just that exception means "re-raise it as it was" (callers catch GatewayError etc.).
            if exc is not None and all(error is exc for error in group.exceptions):
                return False
            raise

    async def list_tools(self, server: McpServer) -> list[dict[str, Any]]:
        """OpenAI ``mcp_list_tools`` entries; raises ``McpListError`` on any failure."""
        connection = self._connection(server)
        mark = connection.statuses.mark()
        try:
            with anyio.fail_after(self._params.list_timeout):
                session = await connection.session()
                tools = await _list_all_tools(session)
        except TimeoutError:
            raise McpListError(server.label, "timed out") from None
        except _ConnectFailed as exc:
            raise McpListError(server.label, exc.reason) from None
        except (
            MCPError,
            ValidationError,
            anyio.ClosedResourceError,
            anyio.BrokenResourceError,
        ) as exc:
            reason = _classify(exc, connection.statuses, mark).reason
            raise McpListError(server.label, reason) from None
        connection.listed.update(tool.name for tool in tools)
        return [_tool_entry(tool) for tool in tools]

    async def call_tool(
        self, server: McpServer, name: str, arguments: dict[str, Any]
    ) -> McpCallOutcome:
        """Run one ``tools/call``; every failure becomes an outcome with ``error`` set."""
        connection = self._connection(server)
        try:
            session = await connection.session()
        except _ConnectFailed as exc:
            return exc.outcome()
        with anyio.move_on_after(self._params.call_timeout + CALL_GRACE):
            return await self._call(connection, session, name, arguments)
        return McpCallOutcome.protocol_error(
            types.REQUEST_TIMEOUT, f"Request 'tools/call' {name!r} timed out"
        )

    async def _call(
        self, connection: _Connection, session: ClientSession, name: str, arguments: dict[str, Any]
    ) -> McpCallOutcome:
        mark = connection.statuses.mark()
        try:
            result = await _send_call(session, name, arguments, self._params.call_timeout)
            if name in connection.listed and not result.is_error:
                await session.validate_tool_result(name, result)  # listed: no hidden tools/list
        except MCPError as exc:
            status = connection.statuses.since(mark)
            if status is not None and exc.message in _SDK_HTTP_STAND_INS:
                return McpCallOutcome.http_error(status)
            return McpCallOutcome.protocol_error(exc.code, exc.message)
        except ValidationError:
            return McpCallOutcome.protocol_error(types.INTERNAL_ERROR, "Invalid tools/call result")
        except RuntimeError as exc:  # structured content failed the tool's outputSchema
            return McpCallOutcome.protocol_error(types.INTERNAL_ERROR, str(exc))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return McpCallOutcome.protocol_error(types.CONNECTION_CLOSED, "Connection closed")
        return _outcome(result, self._params.max_output_bytes)

    def _connection(self, server: McpServer) -> _Connection:
        connection = self._connections.get(server.key)
        if connection is None:
            if self._task_group is None:
                raise RuntimeError("McpSessions must be used as an async context manager")
            connection = _Connection(server, self._params)
            self._connections[server.key] = connection
            self._task_group.start_soon(connection.run, name=f"mcp-session-{server.label}")
        return connection


async def _send_call(
    session: ClientSession, name: str, arguments: dict[str, Any], timeout: float
) -> types.CallToolResult:
    """``tools/call`` by hand: ``ClientSession.call_tool`` lists tools first on a fresh session."""
    request = types.CallToolRequest(
        params=types.CallToolRequestParams(name=name, arguments=arguments)
    )
    result: types.CallToolResult = await session.send_request(
        request, types.CallToolResult, request_read_timeout_seconds=timeout
    )
    return result


async def _list_all_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        params = types.PaginatedRequestParams(cursor=cursor) if cursor is not None else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            return tools
    logger.debug("tools/list stopped after %d pages", MAX_LIST_PAGES)
    return tools


def _tool_entry(tool: types.Tool) -> dict[str, Any]:
    """Optional keys are left out when empty: the Vercel AI SDK's schema refuses their ``null``."""
    entry: dict[str, Any] = {"name": tool.name, "input_schema": tool.input_schema}
    if tool.description is not None:
        entry["description"] = tool.description
    if tool.annotations is not None:
        entry["annotations"] = {"read_only": bool(tool.annotations.read_only_hint)}
    return entry


def _outcome(result: types.CallToolResult, max_bytes: int) -> McpCallOutcome:
    if result.is_error:
        content = [_block_json(block, max_bytes) for block in result.content]
        return McpCallOutcome(None, {"type": "mcp_tool_execution_error", "content": content})
    parts = [_render_block(block) for block in result.content]
    has_text = any(isinstance(block, types.TextContent) for block in result.content)
    if not has_text and result.structured_content is not None:
        parts.insert(0, json.dumps(result.structured_content, ensure_ascii=False))
    return McpCallOutcome(
        truncate_utf8("\n".join(parts), max_bytes), None, _images(result.content, max_bytes)
    )


def _images(blocks: list[Any], max_bytes: int) -> list[str]:
    """Image blocks as data URLs, within the output budget (the rest stay placeholders)."""
    images: list[str] = []
    for block in blocks:
        if isinstance(block, types.ImageContent):
            url = f"data:{block.mime_type};base64,{block.data}"
            if len(url) > max_bytes:
                break
            max_bytes -= len(url)
            images.append(url)
    return images


def _render_block(block: Any) -> str:
    """Text as is; anything else as a short JSON placeholder (no base64 payloads)."""
    if isinstance(block, types.TextContent):
        return block.text
    resource = getattr(block, "resource", None)
    if isinstance(resource, types.TextResourceContents):
        return resource.text
    described = {"type": getattr(block, "type", "unknown")}
    for attr in ("mime_type", "uri", "name"):
        value = getattr(block, attr, None) or getattr(resource, attr, None)
        if isinstance(value, str):
            described[attr] = value
    return json.dumps(described, ensure_ascii=False)


def _block_json(block: Any, max_bytes: int) -> dict[str, Any]:
    dumped: dict[str, Any] = block.model_dump(by_alias=True, mode="json", exclude_none=True)
    if isinstance(dumped.get("text"), str):
        dumped["text"] = truncate_utf8(dumped["text"], max_bytes)
    return dumped


def _classify(exc: BaseException, statuses: HttpStatusLog, mark: int = 0) -> _ConnectFailed:
    """A caller-safe reason for a failure: HTTP status if one was seen, else a short category."""
    leaves = _leaves(exc)
    status = statuses.since(mark) or _http_status(leaves)
    if status is not None:
        return _ConnectFailed(f"Http status code: {status_text(status)}", status=status)
    logger.debug("MCP failure: %s", ", ".join(type(leaf).__name__ for leaf in leaves))
    if any(_is_timeout(leaf) for leaf in leaves):
        return _ConnectFailed("timed out", code=types.REQUEST_TIMEOUT)
    error = next((leaf for leaf in leaves if isinstance(leaf, MCPError)), None)
    if error is not None and error.code != types.CONNECTION_CLOSED:
        return _ConnectFailed(f"MCP error {error.code}: {error.message[:200]}", code=error.code)
    return _ConnectFailed("connection failed")


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


def _http_status(leaves: list[BaseException]) -> int | None:
    for leaf in leaves:
        if isinstance(leaf, httpx2.HTTPStatusError):
            return leaf.response.status_code
    return None


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, MCPError):
        return exc.code == types.REQUEST_TIMEOUT
    return isinstance(exc, httpx2.TimeoutException | TimeoutError)
