"""``/metrics`` scraped and parsed with Prometheus' own text parser, after real traffic."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import openai
from prometheus_client.parser import text_string_to_metric_families

from responses_gateway import lifecycle
from tests.conftest import Gateway
from tests.support.mcp_servers import running_mcp_servers
from tests.support.upstream import Reply, ScriptedUpstream, ToolCall


def scrape(gateway: Gateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(gateway.url + "/metrics").text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_tokens_latency_and_cache_are_counted(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    before = scrape(gateway)
    upstream.push(
        Reply(content="one", usage={"prompt_tokens": 30, "completion_tokens": 5}),
        Reply(content="two", usage={"prompt_tokens": 40, "completion_tokens": 6}),
    )
    first = client.responses.create(model="metrics-model", input="hi")
    client.responses.create(model="metrics-model", input="again", previous_response_id=first.id)
    client.responses.create(model="metrics-model", input="x", previous_response_id=first.id)
    after = scrape(gateway)

    route = {"route": "/v1/responses", "method": "POST", "streamed": "false"}
    ok = value(after, "gateway_requests_total", status="200", **route) - value(
        before, "gateway_requests_total", status="200", **route
    )
    assert ok == 3
    tokens = {
        kind: value(after, "gateway_tokens_total", model="metrics-model", kind=kind)
        - value(before, "gateway_tokens_total", model="metrics-model", kind=kind)
        for kind in ("input", "output")
    }
    # The third reply is the upstream's default (11 in, 7 out).
    assert tokens == {"input": 30 + 40 + 11, "output": 5 + 6 + 7}
    calls = "gateway_upstream_request_duration_seconds_count"
    assert (
        value(after, calls, operation="complete") - value(before, calls, operation="complete") == 3
    )
    seconds = "gateway_request_duration_seconds_count"
    labels = {"route": "/v1/responses", "streamed": "false"}
    assert value(after, seconds, **labels) - value(before, seconds, **labels) == 3
    hits = value(after, "gateway_history_cache_lookups_total", result="hit") + value(
        after, "gateway_history_cache_lookups_total", result="miss"
    )
    assert (
        hits
        - (
            value(before, "gateway_history_cache_lookups_total", result="hit")
            + value(before, "gateway_history_cache_lookups_total", result="miss")
        )
        == 2
    )
    saves = "gateway_store_duration_seconds_count"
    assert value(after, saves, operation="save") - value(before, saves, operation="save") == 3


def test_routes_are_templates_and_errors_are_counted(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    before = scrape(gateway)
    missing = httpx.get(gateway.base_url + "/responses/resp_doesnotexist")
    assert missing.status_code == 404
    upstream.push(Reply(status=503, error={"message": "overloaded", "code": "busy"}))
    failed = httpx.post(gateway.base_url + "/responses", json={"model": "m", "input": "x"})
    assert failed.status_code == 502
    after = scrape(gateway)
    labels = {"route": "/v1/responses/{response_id}", "method": "GET", "streamed": "false"}
    assert (
        value(after, "gateway_requests_total", status="404", **labels)
        - value(before, "gateway_requests_total", status="404", **labels)
        == 1
    )
    assert not any("resp_doesnotexist" in str(key) for key in after)
    errors = value(after, "gateway_upstream_errors_total", kind="busy") - value(
        before, "gateway_upstream_errors_total", kind="busy"
    )
    assert errors == 1


def test_streams_record_time_to_first_event(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    before = scrape(gateway)
    upstream.push(Reply(content="streamed words"))
    with client.responses.stream(model="m", input="go") as stream:
        final = stream.get_final_response()
    assert final.status == "completed"
    after = scrape(gateway)
    name = "gateway_time_to_first_event_seconds_count"
    assert (
        value(after, name, route="/v1/responses") - value(before, name, route="/v1/responses") == 1
    )
    stream_label = {"route": "/v1/responses", "method": "POST", "streamed": "true", "status": "200"}
    assert (
        value(after, "gateway_requests_total", **stream_label)
        - value(before, "gateway_requests_total", **stream_label)
        == 1
    )
    assert value(after, "gateway_streams_in_flight") == 0
    assert value(after, "gateway_requests_in_flight") == 1  # the scrape itself


def test_request_id_is_taken_or_made(gateway: Gateway, upstream: ScriptedUpstream) -> None:
    given = httpx.get(gateway.url + "/healthz", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = httpx.get(gateway.url + "/healthz", headers={"x-request-id": "bad id\twith spaces"})
    assert made.headers["x-request-id"].startswith("req_")
    assert made.headers["x-request-id"] != "abc-123"


def test_mcp_listings_and_calls_are_counted(
    gateway: Gateway, client: openai.OpenAI, upstream: ScriptedUpstream
) -> None:
    with running_mcp_servers() as mcp:
        before = scrape(gateway)
        upstream.push(Reply(tool_calls=[ToolCall("add", '{"a": 2, "b": 3}')]), Reply(content="5"))
        tool = {"type": "mcp", "server_label": "calc", "server_url": mcp.streamable_url}
        response = client.responses.create(model="m", input="add", tools=[tool])  # type: ignore[list-item]
        assert [item.type for item in response.output] == ["mcp_list_tools", "mcp_call", "message"]
        after = scrape(gateway)
    for name in ("gateway_mcp_listings_total", "gateway_mcp_calls_total"):
        labels = {"server_label": "calc", "outcome": "ok"}
        assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_open_websockets_are_a_gauge(gateway: Gateway, client: openai.OpenAI) -> None:
    before = value(scrape(gateway), "gateway_websocket_connections")
    with client.responses.connect() as connection:
        connection.response.create(model="m", input="hi", generate=False)
        for event in connection:
            if event.type == "response.completed":
                break
        assert value(scrape(gateway), "gateway_websocket_connections") == before + 1
    deadline = time.monotonic() + 10
    while value(scrape(gateway), "gateway_websocket_connections") != before:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_in_flight_gauge_reads_while_another_thread_makes_lifecycles() -> None:
    """A scrape copies the set of lifecycles that another thread may be adding to."""
    failures: list[BaseException] = []
    done = threading.Event()

    def scrape() -> None:
        while not done.is_set():
            try:
                lifecycle._in_flight()
            except BaseException as exc:  # any failure is the finding
                failures.append(exc)
                return

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for _ in range(2_000):
            lives = [lifecycle.Lifecycle() for _ in range(50)]
            del lives
    finally:
        done.set()
        scraper.join()
    assert failures == []
