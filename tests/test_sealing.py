"""Sealed blobs: only this gateway opens them, for the purpose they were sealed for."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from responses_gateway.sealing import PREFIX, Sealer, SealingKeyError, new_key


def test_round_trip_and_purpose_binding() -> None:
    sealer = Sealer.from_texts([new_key()])
    blob = sealer.seal("reasoning", {"text": "because", "n": 1})
    assert blob.startswith(PREFIX)
    assert "because" not in blob
    assert sealer.open("reasoning", blob) == {"text": "because", "n": 1}
    assert sealer.open("compaction", blob) is None


def test_foreign_tampered_and_garbage_blobs_do_not_open() -> None:
    sealer = Sealer.from_texts([new_key()])
    blob = sealer.seal("compaction", {"summary": "s"})
    flipped = blob[:-2] + ("A" if blob[-2] != "A" else "B") + blob[-1]
    assert sealer.open("compaction", flipped) is None
    assert Sealer.from_texts([new_key()]).open("compaction", blob) is None
    for garbage in ("", "gAAAAABopenai-blob", PREFIX, PREFIX + "!!!", PREFIX + "AAAA"):
        assert sealer.open("compaction", garbage) is None


def test_rotation_first_key_seals_every_key_opens() -> None:
    old, new = new_key(), new_key()
    old_blob = Sealer.from_texts([old]).seal("reasoning", {"v": "old"})
    rotated = Sealer.from_texts([new, old])
    assert rotated.open("reasoning", old_blob) == {"v": "old"}
    new_blob = rotated.seal("reasoning", {"v": "new"})
    assert Sealer.from_texts([new]).open("reasoning", new_blob) == {"v": "new"}
    assert Sealer.from_texts([old]).open("reasoning", new_blob) is None


@pytest.mark.parametrize("bad", ["short", "not base64 ***", new_key() + "AAAA"])
def test_bad_keys_are_refused(bad: str) -> None:
    with pytest.raises(SealingKeyError):
        Sealer.from_texts([bad])


def test_key_file_is_made_once_and_shared(tmp_path: Path) -> None:
    path = tmp_path / "gateway.key"
    first = Sealer.from_key_file(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    second = Sealer.from_key_file(path)
    assert second.open("reasoning", first.seal("reasoning", {"a": 1})) == {"a": 1}
