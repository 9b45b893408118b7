"""A connection's ``store: false`` responses, so ``previous_response_id`` can name them on this
socket (and nowhere else: they exist nowhere else).

Only the newest response of each lane is kept, with its whole history already built (and
already in chat form), so a continuation reads nothing and converts only its own turn. At most
``_KEPT_LANES`` lanes are remembered; the least recently used one is forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict

from responses_gateway.service.history import History

_KEPT_LANES = 64


class LocalResponses:
    def __init__(self) -> None:
        self._lanes: OrderedDict[str | None, tuple[str, History]] = OrderedDict()

    def find(self, response_id: str | None) -> History | None:
        for lane, (kept_id, history) in self._lanes.items():
            if kept_id == response_id:
                self._lanes.move_to_end(lane)
                return history
        return None

    def keep(self, lane: str | None, response_id: str, history: History) -> None:
        self._lanes.pop(lane, None)
        self._lanes[lane] = (response_id, history)
        if len(self._lanes) > _KEPT_LANES:
            self._lanes.popitem(last=False)

    def forget_lane(self, lane: str | None) -> None:
        """The lane's newest response is a stored one: it chains from the database."""
        self._lanes.pop(lane, None)

    def evict(self, response_id: str | None) -> None:
        for lane, (kept_id, _) in list(self._lanes.items()):
            if kept_id == response_id:
                del self._lanes[lane]
