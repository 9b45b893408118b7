"""The routes every client call goes through, served without FastAPI's router or Starlette's
outer middleware.

A ``POST /v1/responses`` spent about a quarter of its gateway CPU in FastAPI and Starlette's
routing: matching the route patterns, the ``request_response`` wrapper, dependency solving and
the endpoint runner (py-spy, ``store: false`` at c=16), although the endpoint takes only the
``Request``. Around the user middleware Starlette adds ``ServerErrorMiddleware`` (which wraps
every ``send``), FastAPI's exception-telemetry and body-limit layers and the per-request check
whether its native telemetry is on: together about 0.03 M instructions of a 0.89 M request
(callgrind). ``GatewayApp`` sends an exact hot method and path straight to its own chain (the
request log and metrics, the body limits, then ``HotRoutes``), which calls the very same
endpoint function; every other request goes on to FastAPI. The routes stay registered with
FastAPI too, for the OpenAPI document.

Errors: a ``GatewayError`` becomes the same envelope as the app's handler writes; anything else
gets the app's own 500 handler, as ``ServerErrorMiddleware`` would give it, and propagates to
uvicorn (which logs it and closes the connection).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from responses_gateway.api.errors import gateway_error_response, unexpected_error_response
from responses_gateway.errors import GatewayError

Endpoint = Callable[[Request], Awaitable[Response]]
Routes = Mapping[tuple[str, str], Endpoint]


@dataclass(frozen=True)
class HotRoute:
    """What ``scope["route"]`` holds for these requests: the metrics label reads ``path``."""

    path: str
    endpoint: Endpoint


class HotRoutes:
    """The innermost layer of the hot chain: only requests ``GatewayApp`` matched reach it."""

    def __init__(self, routes: Routes) -> None:
        self._routes = {key: HotRoute(key[1], endpoint) for key, endpoint in routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = route = self._routes[scope["method"], scope["path"]]
        try:
            response = await route.endpoint(Request(scope, receive, send))
        except GatewayError as exc:
            response = gateway_error_response(exc)
        except Exception as exc:
            # Nothing was sent yet: the endpoint only builds the response. A failure while
            # sending it (a stream's generator) comes after its start, and only propagates.
            await unexpected_error_response(exc)(scope, receive, send)
            raise
        await response(scope, receive, send)


class GatewayApp(FastAPI):
    """FastAPI, except that an exact hot method and path goes to ``hot`` (see the module doc)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.hot_keys: frozenset[tuple[str, str]] = frozenset()
        self.hot: ASGIApp | None = None

    def serve_hot(self, routes: Routes, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
        """Serve ``routes`` through ``wrap(HotRoutes(routes))`` instead of the middleware stack."""
        self.hot_keys = frozenset(routes)
        self.hot = wrap(HotRoutes(routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.hot is not None
            and scope["type"] == "http"
            and (scope["method"], scope["path"]) in self.hot_keys
        ):
            scope["app"] = self  # what Starlette sets: ``request.app`` reads it
            await self.hot(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
