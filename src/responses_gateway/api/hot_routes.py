"""The routes every client call goes through, served without FastAPI's router.

A ``POST /v1/responses`` spent about a quarter of its gateway CPU in FastAPI and Starlette's
routing: matching the route patterns, the ``request_response`` wrapper, dependency solving and
the endpoint runner (py-spy, ``store: false`` at c=16), although the endpoint takes only the
``Request``. ``HotRoutes`` sits inside the app's own middleware (so access logging, metrics and
body limits see these requests as before) and calls the very same endpoint function for an exact
method and path; every other request goes on to FastAPI. The routes stay registered with FastAPI
too, for the OpenAPI document.

Errors: a ``GatewayError`` becomes the same envelope as the app's handler writes; anything else
propagates to Starlette's ``ServerErrorMiddleware``, outside this layer, as it would from FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from responses_gateway.api.errors import gateway_error_response
from responses_gateway.errors import GatewayError

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class HotRoute:
    """What ``scope["route"]`` holds for these requests: the metrics label reads ``path``."""

    path: str
    endpoint: Endpoint


class HotRoutes:
    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Endpoint]) -> None:
        self._app = app
        self._routes = {key: HotRoute(key[1], endpoint) for key, endpoint in routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = (
            self._routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if route is None:
            await self._app(scope, receive, send)
            return
        scope["route"] = route
        try:
            response = await route.endpoint(Request(scope, receive, send))
        except GatewayError as exc:
            response = gateway_error_response(exc)
        await response(scope, receive, send)
