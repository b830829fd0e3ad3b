"""docker/healthcheck.py: the compose health checks' probe, against a real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

HEALTHCHECK = Path(__file__).resolve().parents[2] / "docker" / "healthcheck.py"
PROBE_TIMEOUT_S = 30


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    """Answers GET /<status> with that HTTP status."""

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        self.send_response(int(self.path.strip("/")))
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _probe(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK), url],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_S,
    )


def test_healthy_when_the_url_answers_200(server_url):
    assert _probe(f"{server_url}/200").returncode == 0


@pytest.mark.parametrize("status", [404, 503])
def test_unhealthy_when_the_url_answers_an_error(server_url, status):
    result = _probe(f"{server_url}/{status}")

    assert result.returncode == 1
    assert str(status) in result.stderr


def test_unhealthy_when_nothing_listens():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]

    result = _probe(f"http://127.0.0.1:{port}/health")

    assert result.returncode == 1
    assert "refused" in result.stderr.lower()
