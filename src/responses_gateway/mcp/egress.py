"""Egress control for user-supplied MCP server URLs (an SSRF primitive otherwise).

Two layers share one policy:

* ``vet_server_url`` runs at request-validation time, so a refused URL becomes a 400 before any
  streaming starts. Its message is deliberately generic: naming the resolved address or the rule
  that fired would turn the gateway into a DNS oracle for internal names.
* ``GuardedBackend`` runs on every new TCP connection the MCP HTTP client opens. It resolves once,
  refuses if any answer is non-public, and connects to the vetted address (pinning), which also
  covers DNS rebinding, same-origin redirect hops, the legacy SSE endpoint hop and reconnects.

Redirects: the client is built with ``follow_redirects=False``; the mcp SDK follows only
same-origin redirects that keep the method and refuses everything else, so headers (including
``Authorization``) never reach another origin (``tests/test_mcp_client.py`` checks this).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

import anyio
import httpcore2
import httpx2

from responses_gateway.mcp.policy import EgressPolicy, McpUrlRefused, normalise_host

logger = logging.getLogger("responses_gateway.mcp")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges to refuse even where ``is_global`` says otherwise (or may, depending on the Python
# version), plus the metadata addresses spelled out for the reader.
EXTRA_BLOCKED: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT; Alibaba metadata 100.100.100.200
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local; AWS/GCP/Azure metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/96",  # unspecified, loopback and IPv4-compatible (::127.0.0.1, ::a9fe:a9fe)
        "::ffff:0:0:0/96",  # IPv4-translated (::ffff:0:127.0.0.1)
        "64:ff9b::/96",  # NAT64 embeds an IPv4 address
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001::/32",  # Teredo embeds an IPv4 address
        "2002::/16",  # 6to4 embeds an IPv4 address
        "fc00::/7",  # unique local; includes AWS IMDS fd00:ec2::254
        "fe80::/10",
        "ff00::/8",
    )
)

# A host whose last label is a number is an IPv4 literal to URL parsers and to inet_aton
# (``2130706433``, ``0x7f.1``, ``0177.1``); only the canonical dotted quad is accepted.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_ALLOWED_SCHEMES = ("http", "https")

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class EgressDenied(httpcore2.ConnectError):
    """A destination failed the policy; httpx2 maps it to ``httpx2.ConnectError``."""


def check_host(policy: EgressPolicy, host: str) -> None:
    """Refuse a host outside the allow-list or a non-canonical numeric IPv4 literal."""
    name = normalise_host(host)
    if not name:
        raise EgressDenied("no host")
    if policy.allowed_hosts and name not in policy.allowed_hosts:
        raise EgressDenied("host not in the allow-list")
    if _NUMERIC_LABEL.match(name.rsplit(".", 1)[-1]) and not _is_ip_literal(name):
        raise EgressDenied("non-canonical IP literal")


def check_address(policy: EgressPolicy, ip: IPAddress) -> None:
    """Refuse a non-public address unless private networks are explicitly allowed."""
    if policy.allow_private_networks:
        return
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or any(ip in net for net in EXTRA_BLOCKED):
        raise EgressDenied("destination address not allowed")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` to its distinct addresses, in resolver order."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise EgressDenied("could not resolve host") from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise EgressDenied("could not resolve host")
    return addresses


async def vet_server_url(url: str, policy: EgressPolicy, *, resolve_timeout: float = 10.0) -> None:
    """Raise ``McpUrlRefused`` unless ``url`` is an http(s) URL whose host passes ``policy``.

    Every resolved address must pass: one private answer among public ones is enough to refuse.
    """
    try:
        host, port = _split_url(url)
        check_host(policy, host)
        with anyio.fail_after(resolve_timeout):
            addresses = await resolve(host, port)
        for ip in addresses:
            check_address(policy, ip)
    except (EgressDenied, TimeoutError) as exc:
        logger.debug("MCP server URL refused: %s", exc or "resolution timed out")
        raise McpUrlRefused(url) from None


@dataclass
class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Network backend that vets and pins the address of every new TCP connection."""

    policy: EgressPolicy
    inner: httpcore2.AsyncNetworkBackend = field(default_factory=httpcore2.AnyIOBackend)
    resolver: Resolver = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        check_host(self.policy, host)
        try:
            with anyio.fail_after(timeout):
                addresses = await self.resolver(host, port)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout("timed out resolving host") from exc
        for ip in addresses:
            check_address(self.policy, ip)
        return await self._connect_first(addresses, port, timeout, local_address, socket_options)

    async def _connect_first(
        self,
        addresses: list[IPAddress],
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None,
    ) -> httpcore2.AsyncNetworkStream:
        """Try the vetted addresses in order (``localhost`` may answer ``::1`` first)."""
        options = list(socket_options) if socket_options is not None else None
        failure: httpcore2.ConnectError | None = None
        for ip in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=options,
                )
            except httpcore2.ConnectError as exc:
                failure = exc
        assert failure is not None  # resolve() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise EgressDenied("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@dataclass
class HttpStatusLog:
    """Records failing HTTP statuses: the SDK turns most of them into a status-less -32603."""

    statuses: list[tuple[str, int]] = field(default_factory=list)

    async def hook(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self.statuses.append((response.request.method, response.status_code))

    @property
    def last(self) -> int | None:
        return self.statuses[-1][1] if self.statuses else None

    def mark(self) -> int:
        return len(self.statuses)

    def since(self, mark: int) -> int | None:
        """The last status recorded after ``mark()`` returned ``mark``."""
        return self.statuses[-1][1] if len(self.statuses) > mark else None


class BodyTooLarge(httpx2.StreamError):
    """A ``StreamError``, so the SDK fails just that request rather than the whole session."""


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int) -> None:
        self._inner, self._limit, self._seen = inner, limit, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._seen += len(chunk)
            if self._seen > self._limit:
                raise BodyTooLarge(f"response body exceeded {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx2.AsyncBaseTransport):
    """Caps every non-SSE response body; the SDK caps SSE events itself (``max_sse_event_size``)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, max_body_bytes: int) -> None:
        self._inner, self._max = inner, max_body_bytes

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(cast(httpx2.AsyncByteStream, response.stream), self._max),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One per process: building one loads the CA bundle, ~20 ms of CPU, too much per session."""
    return httpx2.create_ssl_context(trust_env=False)


def build_http_client(
    *,
    headers: Mapping[str, str] | None,
    policy: EgressPolicy,
    connect_timeout: float,
    read_timeout: float,
    max_body_bytes: int,
    status_log: HttpStatusLog | None = None,
) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` for one MCP session: guarded, capped, no proxies, no redirects.

    ``trust_env=False`` matters: with a proxy from the environment, DNS would happen in the
    proxy and the address check would be skipped.
    """
    transport = httpx2.AsyncHTTPTransport(verify=_ssl_context(), trust_env=False, retries=0)
    # AsyncHTTPTransport has no network_backend argument, hence the pool swap.
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=_ssl_context(),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=GuardedBackend(policy),
    )
    hooks = {"response": [status_log.hook]} if status_log is not None else {}
    return httpx2.AsyncClient(
        transport=CappedTransport(transport, max_body_bytes),
        headers=dict(headers) if headers is not None else None,
        timeout=httpx2.Timeout(connect_timeout, read=read_timeout),
        follow_redirects=False,
        trust_env=False,
        event_hooks=hooks,
    )


def _split_url(url: str) -> tuple[str, int]:
    """(ASCII host, port) of an http(s) URL without userinfo, parsed as httpx2 will parse it."""
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError, ValueError) as exc:
        raise EgressDenied("invalid URL") from exc
    if parsed.scheme not in _ALLOWED_SCHEMES:
        raise EgressDenied("scheme not allowed")
    if parsed.userinfo:
        raise EgressDenied("userinfo not allowed")
    host = parsed.raw_host.decode("ascii")
    if not host:
        raise EgressDenied("no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise EgressDenied("invalid port")
    return host, port


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
