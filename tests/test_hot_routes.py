"""``GatewayApp``'s hot chain answers errors as the app's handlers would."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from responses_gateway.api.errors import install_error_handlers
from responses_gateway.api.hot_routes import GatewayApp
from responses_gateway.errors import InvalidRequest


async def _boom(_request: Request) -> Response:
    raise RuntimeError("a bug")


async def _refused(_request: Request) -> Response:
    raise InvalidRequest("no.", param="input", code="invalid_value")


def _app() -> GatewayApp:
    app = GatewayApp()
    install_error_handlers(app)
    app.serve_hot({("POST", "/boom"): _boom, ("POST", "/refused"): _refused}, lambda hot: hot)
    return app


def test_a_bug_is_the_app_500_and_still_raised() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    answer = client.post("/boom")
    assert answer.status_code == 500
    assert answer.headers["connection"] == "close"
    assert answer.json()["error"]["type"] == "server_error"
    raising = TestClient(_app())
    try:
        raising.post("/boom")
    except RuntimeError as exc:
        assert str(exc) == "a bug"
    else:
        raise AssertionError("the error did not propagate")


def test_a_gateway_error_is_its_envelope() -> None:
    answer = TestClient(_app()).post("/refused")
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "input"


def test_other_requests_go_to_fastapi() -> None:
    assert TestClient(_app()).post("/elsewhere").status_code == 404
