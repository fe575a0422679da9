"""A monitor killed with SIGKILL between storing and sending loses no alert and repeats none."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from monitor.store import Store
from tests.conftest import ROOT, Smtp, snapshot_sources, write_config


class Tarpit:
    """A TCP server on loopback that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


def _once(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "run_monitor.py", "--once", "--config", str(config)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_sigkill_while_sending_then_restart_delivers_every_alert_once(
    tmp_path: Path, snapshot_url: str, smtp: Smtp
):
    tarpit = Tarpit()
    sources = snapshot_sources(snapshot_url)
    hanging = _once(write_config(tmp_path, sources, tarpit.port))
    try:
        assert tarpit.accepted.wait(60), "the monitor never started sending"
        time.sleep(0.2)
        hanging.send_signal(signal.SIGKILL)
        hanging.wait(10)
    finally:
        tarpit.close()
    store = Store(tmp_path / "data" / "monitor.db")
    matched = sum(1 for r in store.items_overview() if r["matched_topics"])
    assert matched > 0
    counts = store.outbox_counts()
    assert sum(counts.values()) == matched and "sent" not in counts, "queued, none marked sent"

    restarted = _once(write_config(tmp_path, sources, smtp.port))
    assert restarted.wait(60) == 0, restarted.stderr.read() if restarted.stderr else ""
    again = _once(write_config(tmp_path, sources, smtp.port))
    assert again.wait(60) == 0

    subjects = [m["Subject"] for m in smtp.messages]
    assert len(subjects) == matched, "every matched item alerted"
    assert len(set(subjects)) == len(subjects), "none twice"
    assert Store(tmp_path / "data" / "monitor.db").outbox_counts() == {"sent": matched}
