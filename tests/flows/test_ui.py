"""`genrec ui`'s port choice: the asked port when free, else a free one, said."""

from __future__ import annotations

import logging
import socket

from flows.ui import free_port


def test_a_taken_port_is_replaced_by_a_free_one_with_a_warning(caplog):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="flows.ui"):
            chosen = free_port("127.0.0.1", busy)

    assert chosen != busy and chosen > 0
    assert f"port {busy} on 127.0.0.1 is taken" in caplog.text


def test_a_free_port_is_kept():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        wanted = probe.getsockname()[1]

    assert free_port("127.0.0.1", wanted) == wanted
