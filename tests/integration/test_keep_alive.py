"""An idle keep-alive connection outlives a client's pause between requests.

A server that closes an idle connection just as its client sends the next
request on it fails that request with a reset or an empty answer; the load
test's users pause several seconds between requests, so with uvicorn's own
keep-alive (5 s) some of their requests failed that way. Each service keeps an
idle connection for ``keep_alive_seconds``."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import uvicorn

from sandbox_common.health import HEALTH_PATH
from sandbox_common.settings import CommonSettings

pytestmark = pytest.mark.cross_process

# uvicorn's default, which the services override; the pause must outlast it.
UVICORN_KEEP_ALIVE = uvicorn.Config(app=None).timeout_keep_alive


def _request(connection: socket.socket, host: str) -> bytes:
    """One GET of the health path on an open connection; the status line."""
    try:
        connection.sendall(f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return _answer(connection)
    except OSError as exc:
        return f"({exc!r})".encode()


def _answer(connection: socket.socket) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(4096)
        if not chunk:
            return b"(closed by the server)"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))  # fmt: skip
    while len(body) < length:
        chunk = connection.recv(4096)
        if not chunk:
            return b"(closed by the server within the body)"
        body += chunk
    return head.split(b"\r\n", 1)[0]


def test_a_connection_idle_longer_than_uvicorns_default_still_answers(
    urls: dict[str, str],
) -> None:
    assert CommonSettings.model_fields["keep_alive_seconds"].default > UVICORN_KEEP_ALIVE + 1
    connections = {}
    try:
        for service, url in urls.items():
            parts = urlsplit(url)
            assert parts.hostname
            assert parts.port
            connection = socket.create_connection((parts.hostname, parts.port), timeout=10)
            connections[service] = (connection, parts.netloc)
            assert _request(connection, parts.netloc).startswith(b"HTTP/1.1 200")
        time.sleep(UVICORN_KEEP_ALIVE + 1)
        answers = {service: _request(connection, host).decode(errors="replace")
                   for service, (connection, host) in connections.items()}  # fmt: skip
    finally:
        for connection, _ in connections.values():
            connection.close()
    assert all(answer.startswith("HTTP/1.1 200") for answer in answers.values()), answers
