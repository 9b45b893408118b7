"""Request ids the gateway makes: the old shape (``req_`` and 24 hex digits), never repeated."""

from __future__ import annotations

import re

from responses_gateway.observability.access import request_id


def test_made_ids_keep_their_shape_and_do_not_repeat() -> None:
    made = [request_id({"headers": []}) for _ in range(1000)]
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", made_id) for made_id in made)
    assert len(set(made)) == len(made)


def test_a_sane_client_id_is_kept() -> None:
    assert request_id({"headers": [(b"x-request-id", b"trace-1")]}) == "trace-1"
