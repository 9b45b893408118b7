"""Sealed blobs: what the gateway hands a client to give back later, readable only by the gateway.

``encrypted_content`` on reasoning items and on ``compaction`` items is such a blob. It is
AES-256-GCM (authenticated: a changed byte is refused, never half-read), with the purpose as
associated data so that a blob sealed for one use cannot be replayed as another. Replicas share
the keys (``GATEWAY_SEALING_KEYS``); the first key seals, every key opens, which is how keys are
rotated. Without configured keys, one key is made once and kept in ``GATEWAY_SEALING_KEY_FILE``, so
the workers of one host (and its restarts) agree.

Wire form: ``rgs1.`` + base64url(key id (4 bytes) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("responses_gateway")

PREFIX = "rgs1."
_KEY_BYTES = 32
_NONCE_BYTES = 12
_ID_BYTES = 4


class SealingKeyError(ValueError):
    """A configured key that is not 32 bytes of base64url: refused at startup."""


def new_key() -> str:
    """A fresh key in the form ``GATEWAY_SEALING_KEYS`` takes."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).decode().rstrip("=")


def _decode_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SealingKeyError("a sealing key is not base64url") from exc
    if len(raw) != _KEY_BYTES:
        raise SealingKeyError(f"a sealing key must be {_KEY_BYTES} bytes, base64url-encoded")
    return raw


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:_ID_BYTES]


class Sealer:
    """Seals and opens blobs with the first key; opens with any key (rotation)."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SealingKeyError("at least one sealing key is needed")
        self._keys = keys
        self._ciphers: tuple[bytes, dict[bytes, AESGCM]] | None = None

    def _aeads(self) -> tuple[bytes, dict[bytes, AESGCM]]:
        """The sealing key's id and every key's cipher by id. Made on first use, not at start:
        cryptography (its own OpenSSL) costs 7.5 MB of RSS (measured: 6.3 to import, 1.2 at the
        first seal), and only a request with ``encrypted_content`` to make or read needs it."""
        if self._ciphers is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            by_id = {_key_id(key): AESGCM(key) for key in reversed(self._keys)}
            self._ciphers = (_key_id(self._keys[0]), by_id)
        return self._ciphers

    @classmethod
    def from_texts(cls, texts: list[str]) -> Sealer:
        return cls([_decode_key(text) for text in texts])

    @classmethod
    def from_key_file(cls, path: Path) -> Sealer:
        """The host's own key, made on first use (exclusively, so concurrent workers agree)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(new_key() + "\n")
            log.warning(
                "made a sealing key in %s: replicas on other hosts must share it "
                "(GATEWAY_SEALING_KEYS)",
                path,
            )
        text = ""
        for _ in range(50):  # a worker that lost the race may read before the winner wrote
            text = path.read_text().strip()
            if text:
                break
        return cls.from_texts([text])

    def seal(self, purpose: str, payload: dict[str, Any]) -> str:
        key_id, by_id = self._aeads()
        aead = by_id[key_id]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, orjson.dumps(payload), purpose.encode())
        return PREFIX + base64.urlsafe_b64encode(key_id + nonce + sealed).decode().rstrip("=")

    def open(self, purpose: str, blob: str) -> dict[str, Any] | None:
        """The payload, or ``None`` for a blob this gateway did not seal for ``purpose`` (another
        provider's, another deployment's, tampered with, or a key since retired)."""
        if not isinstance(blob, str) or not blob.startswith(PREFIX):
            return None
        body = blob[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            return None
        aead = self._aeads()[1].get(raw[:_ID_BYTES])
        nonce, sealed = raw[_ID_BYTES : _ID_BYTES + _NONCE_BYTES], raw[_ID_BYTES + _NONCE_BYTES :]
        if aead is None or len(nonce) != _NONCE_BYTES:
            return None
        from cryptography.exceptions import InvalidTag  # imported by _aeads already

        try:
            payload = orjson.loads(aead.decrypt(nonce, sealed, purpose.encode()))
        except (InvalidTag, orjson.JSONDecodeError):
            return None
        return payload if isinstance(payload, dict) else None


def sealer_from_settings(keys: list[str], key_file: str) -> Sealer:
    return Sealer.from_texts(keys) if keys else Sealer.from_key_file(Path(key_file))
