"""Traces from a real ``responses-gateway serve`` to a real OTLP/HTTP receiver: a span per
response, child spans for the model round and the store write, GenAI attributes, no content."""

from __future__ import annotations

import time
from pathlib import Path

import openai

from tests.conftest import TEST_SEALING_KEY
from tests.support.otlp import Receiver, otlp_receiver
from tests.support.process import gateway_process
from tests.support.upstream import Reply, ScriptedUpstream


def _wait_for_spans(receiver: Receiver, name: str, count: int) -> None:
    deadline = time.monotonic() + 15
    while len(receiver.named(name)) < count:
        assert time.monotonic() < deadline, [s.name for s in receiver.spans]
        time.sleep(0.05)


def test_spans_reach_the_collector(
    database_url: str, upstream: ScriptedUpstream, tmp_path: Path
) -> None:
    with otlp_receiver() as receiver:
        env = {
            "GATEWAY_DATABASE_URL": database_url,
            "GATEWAY_UPSTREAM_URL": upstream.base_url,
            "GATEWAY_SEALING_KEYS": TEST_SEALING_KEY,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_SERVICE_NAME": "gateway-under-test",
        }
        with gateway_process(env, tmp_path / "log", "--no-migrate") as gateway:
            client = openai.OpenAI(base_url=gateway.base_url, api_key="k", max_retries=0)
            upstream.push(
                Reply(
                    content="a private answer", usage={"prompt_tokens": 12, "completion_tokens": 4}
                ),
                Reply(content="streamed private answer"),
            )
            created = client.responses.create(model="traced-model", input="a private question")
            with client.responses.stream(model="traced-model", input="private again") as stream:
                stream.get_final_response()
            _wait_for_spans(receiver, "responses.create", 2)
            _wait_for_spans(receiver, "chat traced-model", 2)
    response_span = next(
        s
        for s in receiver.named("responses.create")
        if s.attributes["gen_ai.response.id"] == created.id
    )
    assert response_span.attributes["gen_ai.request.model"] == "traced-model"
    assert response_span.attributes["gen_ai.usage.input_tokens"] == 12
    assert response_span.attributes["gen_ai.usage.output_tokens"] == 4
    assert response_span.attributes["gateway.response.status"] == "completed"
    children = [s for s in receiver.spans if s.parent_span_id == response_span.span_id]
    names = sorted(s.name for s in children)
    assert names == ["chat traced-model", "store.save"]
    chat = next(s for s in children if s.name == "chat traced-model")
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert chat.attributes["gen_ai.usage.input_tokens"] == 12
    for span in receiver.spans:
        for value in span.attributes.values():
            assert "private" not in str(value)
