"""A chain's earlier turns, and an in-memory cache of recent ones so a chain's next turn neither
re-reads nor re-converts its whole history.

Measured (SQLite, a 50-turn chain, 100 items): the recursive history query cost 0.18 ms, parsing
its items 0.10 ms and converting them to chat messages 0.14 ms, on a turn whose own work is about
1 ms. A cached chain costs no query of its own: the database stays the source of truth, and the
service has it confirm that the previous response is still live, in the save's statement or with
one indexed lookup (see ``ResponsesService._history``), so a response deleted since (or through
another replica) is still refused. Stored items never change, so cached ones cannot go stale; a
chain created on another replica is read from the database once.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from responses_gateway.chat.messages import ChatHistory, McpNames, extend_chat
from responses_gateway.chat.reasoning import NO_REPLAY, ReasoningReplay
from responses_gateway.observability.metrics import HISTORY_CACHE
from responses_gateway.service.tool_shapes import has_tool_items

HISTORY_HITS = HISTORY_CACHE.labels("hit")
HISTORY_MISSES = HISTORY_CACHE.labels("miss")

Item = dict[str, Any]


class History:
    """The items of a chain's turns, oldest first, with its chat form for one MCP naming."""

    __slots__ = ("turns", "items", "size", "tool_items", "_chat")

    def __init__(
        self,
        turns: list[list[Item]],
        items: list[Item],
        size: int,
        chat: tuple[McpNames, ReasoningReplay, ChatHistory] | None = None,
        tool_items: bool | None = None,
    ) -> None:
        self.turns = turns
        self.items = items  # the turns' items in one list, for the checks that scan them
        self.size = size  # bytes of the items as stored: the cache's measure
        # Whether an item carries tools, kept turn by turn: scanning a 50-turn chain's 100
        # items on every turn was ~1/3 of what its turn 50 costs more than its turn 1.
        self.tool_items = has_tool_items(items) if tool_items is None else tool_items
        self._chat = chat

    @classmethod
    def of(cls, turns: list[list[Item]], size: int) -> History:
        return cls(turns, [item for turn in turns for item in turn], size)

    def chat(self, mcp_names: McpNames, replay: ReasoningReplay = NO_REPLAY) -> ChatHistory:
        """The turns as chat messages. Tool names depend on the request's MCP servers, so the
        conversion is redone only when those differ from the last request's (``replay`` is
        the process's one)."""
        if self._chat is not None and self._chat[0] == mcp_names and self._chat[1] is replay:
            return self._chat[2]
        chat = ChatHistory()
        for turn in self.turns:
            chat = extend_chat(chat, turn, mcp_names, replay)
        self._chat = (dict(mcp_names), replay, chat)
        return chat

    def extended(self, turn: list[Item], size: int) -> History:
        """The history of a response chained from this one, whose own items are ``turn``; a
        turn that holds a compaction starts the history afresh (nothing before it is sent)."""
        if any(item.get("type") == "compaction" for item in turn):
            return History([turn], list(turn), size)
        chat = None
        if self._chat is not None:
            names, replay, converted = self._chat
            chat = (names, replay, extend_chat(converted, turn, names, replay))
        tool_items = self.tool_items or has_tool_items(turn)
        items = [*self.items, *turn]
        return History([*self.turns, turn], items, self.size + size, chat, tool_items)


EMPTY_HISTORY = History([], [], 0)


# Measured with tracemalloc on stored items: parsed into Python objects they take about 4 times
# their JSON size, and their chat form about 1 time more.
_MEMORY_PER_STORED_BYTE = 5


class HistoryCache:
    """Least recently used histories by (owner, response id), within a memory budget.

    A conversation keeps one entry, its newest turn (the service drops the previous turn's when
    it adds the next), so the budget counts each conversation about once. Used from the event
    loop only, so it takes no lock."""

    def __init__(self, budget_bytes: int) -> None:
        self._budget = budget_bytes
        self._used = 0
        self._entries: OrderedDict[tuple[str, str], tuple[History, int]] = OrderedDict()

    def get(self, owner: str, response_id: str) -> History | None:
        key = (owner, response_id)
        found = self._entries.get(key)
        if found is None:
            HISTORY_MISSES.inc()
            return None
        HISTORY_HITS.inc()
        self._entries.move_to_end(key)
        return found[0]

    def put(self, owner: str, response_id: str, history: History) -> None:
        weight = history.size * _MEMORY_PER_STORED_BYTE
        if weight > self._budget:  # also: a budget of 0 turns the cache off
            return
        self.discard(owner, response_id)
        self._entries[(owner, response_id)] = (history, weight)
        self._used += weight
        while self._used > self._budget:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._used -= evicted

    def discard(self, owner: str, response_id: str) -> None:
        found = self._entries.pop((owner, response_id), None)
        if found is not None:
            self._used -= found[1]
