"""The Agents SDK's ``OpenAIResponsesCompactionSession`` over the gateway: two turns, each
followed by a compaction (``responses.compact``), the second turn seeing the first's summary."""

from __future__ import annotations

from tests.conftest import Gateway
from tests.support.agents_sdk import run_scenario
from tests.support.upstream import Reply, ScriptedUpstream

_SCENARIO = """
import asyncio, json
from agents import Agent, Runner, SQLiteSession, set_tracing_disabled
from agents.memory import OpenAIResponsesCompactionSession

async def main():
    set_tracing_disabled(True)
    agent = Agent(name="helper", instructions="Be brief.", model="gpt-4.1")
    session = OpenAIResponsesCompactionSession(
        "s1", SQLiteSession("s1"), should_trigger_compaction=lambda context: True
    )
    first = await Runner.run(agent, "My name is Ada.", session=session)
    second = await Runner.run(agent, "What is my name?", session=session)
    items = await session.get_items()
    print(json.dumps({"answers": [first.final_output, second.final_output],
                      "types": [item.get("type", "message") for item in items]}))

asyncio.run(main())
"""


def test_openai_responses_compaction_session_runs_two_turns(
    gateway: Gateway, upstream: ScriptedUpstream
) -> None:
    upstream.push(
        Reply(content="Hello Ada."),
        Reply(content="The user is Ada."),
        Reply(content="Your name is Ada."),
        Reply(content="The user is Ada and asked for their name."),
    )
    result = run_scenario(_SCENARIO, gateway.base_url)
    assert result["answers"] == ["Hello Ada.", "Your name is Ada."]
    assert result["types"][-1] == "compaction"
    second_turn = [(m["role"], m["content"]) for m in upstream.requests[2]["messages"]]
    assert ("user", "What is my name?") in second_turn
    assert any("The user is Ada." in str(content) for _, content in second_turn)
