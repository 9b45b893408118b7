"""An ``https://`` upstream (api.openai.com, Fireworks): the scripted upstream served over TLS with
a throwaway certificate authority. A gateway that trusts it (``SSL_CERT_FILE``, which OpenSSL's
default verify paths read, as they did under aiohttp) answers plain and streamed calls; one that
does not trust it answers a clear 502 at once, not a 500 and not a hang; ``check`` says the same."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from responses_gateway.check import _upstream
from tests.conftest import Gateway, custom_gateway, gateway_settings
from tests.support.checks import read_sse
from tests.support.serving import serve_in_thread
from tests.support.upstream import Reply, ScriptedUpstream


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signed for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("gateway test CA"))
        .issuer_name(_name("gateway test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return _certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_upstream(tls_files: tuple[Path, Path, Path]) -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream()
    _, certificate, key = tls_files
    with serve_in_thread(upstream, ssl_certfile=str(certificate), ssl_keyfile=str(key)) as url:
        upstream.base_url = url.replace("http://", "https://", 1) + "/v1"
        yield upstream


@pytest.fixture
def trusting(
    sqlite_url: str,
    tls_upstream: ScriptedUpstream,
    tls_files: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Gateway]:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    tls_upstream.reset()
    with custom_gateway(sqlite_url, tls_upstream.base_url) as running:
        yield running


def _create(gateway: Gateway, **extra: object) -> httpx.Response:
    body = {"model": "m", "input": "hi", "store": False, **extra}
    return httpx.post(gateway.base_url + "/responses", json=body, timeout=30)


def test_a_plain_call_over_tls(trusting: Gateway, tls_upstream: ScriptedUpstream) -> None:
    tls_upstream.push(Reply(content="over TLS"))
    answer = _create(trusting)
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"][0]["content"][0]["text"] == "over TLS"
    assert tls_upstream.headers[-1]["authorization"] == "Bearer sk-upstream-secret"


def test_a_streamed_call_over_tls(trusting: Gateway, tls_upstream: ScriptedUpstream) -> None:
    text = "streamed through TLS, one small chunk at a time"
    tls_upstream.push(Reply(content=text, chunk_size=3), Reply(content="again"))
    body = {"model": "m", "input": "hi", "stream": True, "store": False}
    with httpx.stream("POST", trusting.base_url + "/responses", json=body, timeout=30) as answer:
        events = read_sse(answer)
    assert events[-1]["type"] == "response.completed"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(deltas) == text and len(deltas) > 1
    assert _create(trusting).json()["output"][0]["content"][0]["text"] == "again"  # kept alive


def test_an_untrusted_certificate_is_a_clear_502(
    sqlite_url: str, tls_upstream: ScriptedUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain: a 502 saying why and what to set; streamed: response.failed with the same."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    tls_upstream.reset()
    with custom_gateway(sqlite_url, tls_upstream.base_url) as gateway:
        started = time.monotonic()
        answer = _create(gateway)
        assert time.monotonic() - started < 5
        assert answer.status_code == 502, answer.text
        message = answer.json()["error"]["message"]
        assert "certificate" in message and "SSL_CERT_FILE" in message, message
        body = {"model": "m", "input": "hi", "stream": True, "store": False}
        with httpx.stream("POST", gateway.base_url + "/responses", json=body, timeout=30) as got:
            events = read_sse(got)
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["message"] == message
    assert "sk-upstream-secret" not in answer.text + str(events)
    assert not tls_upstream.requests


def test_check_trusts_what_requests_trust(
    sqlite_url: str,
    tls_upstream: ScriptedUpstream,
    tls_files: tuple[Path, Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``responses-gateway check`` asks through the same client: the same CA setting, the same
    refusal said the same way."""
    settings = gateway_settings(sqlite_url, tls_upstream.base_url)
    lines: list[tuple[bool, str]] = []
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert not asyncio.run(_upstream(settings, lambda ok, line: lines.append((ok, line))))
    assert "certificate" in lines[-1][1] and "SSL_CERT_FILE" in lines[-1][1], lines
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    assert asyncio.run(_upstream(settings, lambda ok, line: lines.append((ok, line))))
    assert "scripted" in lines[-1][1]
