"""The Agents SDK's ``OpenAIConversationsSession`` over the gateway: two turns, the second
seeing the first through the conversation's items (created, listed and added by the SDK)."""

from __future__ import annotations

import openai

from tests.conftest import Gateway
from tests.support.agents_sdk import run_scenario
from tests.support.upstream import Reply, ScriptedUpstream

_SCENARIO = """
import asyncio, json
from agents import Agent, Runner, set_tracing_disabled
from agents.memory import OpenAIConversationsSession

async def main():
    set_tracing_disabled(True)
    agent = Agent(name="helper", instructions="Be brief.", model="gpt-4.1")
    session = OpenAIConversationsSession()
    first = await Runner.run(agent, "My name is Ada.", session=session)
    second = await Runner.run(agent, "What is my name?", session=session)
    items = await session.get_items()
    print(json.dumps({"session": await session._get_session_id(),
                      "answers": [first.final_output, second.final_output],
                      "items": [item.get("role") for item in items]}))

asyncio.run(main())
"""


def test_openai_conversations_session_runs_two_turns(
    gateway: Gateway, upstream: ScriptedUpstream, client: openai.OpenAI
) -> None:
    upstream.push(Reply(content="Hello Ada."), Reply(content="Your name is Ada."))
    result = run_scenario(_SCENARIO, gateway.base_url)
    assert result["answers"] == ["Hello Ada.", "Your name is Ada."]
    assert result["items"] == ["user", "assistant", "user", "assistant"]
    users = [m["content"] for m in upstream.last["messages"] if m["role"] == "user"]
    assert users[-2:] == ["My name is Ada.", "What is my name?"]
    stored = client.conversations.items.list(result["session"], order="asc")
    assert [item.role for item in stored.data] == result["items"]  # type: ignore[union-attr]
