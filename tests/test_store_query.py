"""``Query``: one statement, written with ``:name`` parameters, in both drivers' styles."""

from __future__ import annotations

from responses_gateway.store.database import Query


def test_named_parameters_are_numbered_once_each_and_casts_are_left_alone() -> None:
    query = Query("SELECT :b::int[], :a FROM t WHERE x = :b AND z = :a_2")
    assert query.numbered == "SELECT $1::int[], $2 FROM t WHERE x = $1 AND z = $3"
    assert query.names == ("b", "a", "a_2")
    assert query.args({"a": 1, "b": 2, "a_2": 3, "unused": 4}) == (2, 1, 3)
    assert query.sql.startswith("SELECT :b::int[]")  # sqlite3 takes the text as written
