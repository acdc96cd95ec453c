"""Draining a kiosk's backlog: how long, and how much of the kiosk's CPU.

A backlog of SYNC_DRAIN_PRESSES buffered presses (default 1,000,000) is sent by the real
SyncLoop (batches of 500) to a real `hub serve` on 127.0.0.1, and timed until the hub holds
them all. The kiosk's CPU is the sync thread's own CPU time (reading the buffer, building and
encoding the batches, HTTP, marking them synced). The baseline is the same hub ingesting the
same rows from the plainest client there is: pre-built press dicts, `json.dumps`, one
keep-alive `requests.Session` posting batch after batch, nothing read or written locally.

The kiosk's buffer is kiosk.store.PressBuffer when it exists (SQLite, as on the Pi);
otherwise an in-memory stand-in, and the row says so.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import requests

from hub.store import Database, registry
from kiosk.sync import SyncLoop
from tests.support import free_port, wait_until

HUB = str(Path(sys.executable).with_name("hub"))
NOW = "2026-01-01T00:00:00.000Z"
BOOT = "7d3f0a1e-6c52-4b8e-a0d4-2e9b5c1f8a33"
START = datetime(2026, 6, 1, tzinfo=UTC)
BATCH = 500


def run():
    total = int(os.environ.get("SYNC_DRAIN_PRESSES", "1000000"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        tmp = Path(tmp)
        kiosk = drain_with_sync_loop(tmp / "kiosk", total)
        plain = drain_plain(tmp / "plain", total)
    what = f"{total:,} presses, batches of {BATCH}"
    buffer = kiosk["buffer"]
    rows.append({"benchmark": f"sync: drain a backlog of {what} ({buffer}) vs plain POSTs",
                 "figure": kiosk["wall_s"], "unit": "s", "baseline": plain["wall_s"],
                 "ratio": kiosk["wall_s"] / plain["wall_s"]})
    rows.append({"benchmark": f"sync: kiosk CPU for that drain ({buffer}) vs plain POSTs",
                 "figure": kiosk["cpu_s"], "unit": "CPU s", "baseline": plain["cpu_s"],
                 "ratio": kiosk["cpu_s"] / plain["cpu_s"]})
    rows.append({"benchmark": "sync: drain rate", "figure": total / kiosk["wall_s"],
                 "unit": "presses/s", "baseline": total / plain["wall_s"],
                 "ratio": plain["wall_s"] / kiosk["wall_s"]})
    return rows


def make_presses(first, last):
    return [{"seq": n, "id": str(uuid.UUID(int=n, version=4)), "mood": 1 + n % 4,
             "pressed_at": (START + timedelta(seconds=n)).isoformat(timespec="milliseconds")
             .replace("+00:00", "Z"), "boot_id": BOOT, "uptime_ms": n * 10,
             "clock_synced": True, "misuse": False}
            for n in range(first, last + 1)]


class Hub:
    """A fresh hub database with one device, served by `hub serve`."""

    def __init__(self, directory):
        directory.mkdir(parents=True)
        self.path = directory / "hub.db"
        db = Database(self.path)
        db.migrate(NOW)
        registry.ensure_secret_key(db)
        registry.add_location(db, "ams", "Amsterdam", "Europe/Amsterdam", None, NOW)
        self.token = registry.add_device(db, "kiosk-1", "ams", NOW)
        db.close()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.process = subprocess.Popen([HUB, "--db", str(self.path), "serve", "--port",
                                         str(self.port), "--workers", "2"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._healthy, timeout=30, message="hub serve")
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)

    def _healthy(self):
        try:
            return requests.get(self.url + "/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    def count(self):
        db = Database(self.path)
        try:
            return db.row("SELECT count(*) FROM presses")[0]
        finally:
            db.close()


def drain_with_sync_loop(directory, total):
    hub = Hub(directory)
    buffer, kind = _backlog(directory, total)
    config = SimpleNamespace(device_id="kiosk-1", hub_url=hub.url, token=hub.token,
                             data_dir=str(directory), sync_interval_s=60, batch_size=BATCH,
                             keep_synced_days=30, ca_file=None)
    print(f"sync: draining {total:,} presses with the SyncLoop ({kind})", flush=True)
    with hub:
        loop = SyncLoop(config, threading.Event(), buffer=buffer)
        result = {}

        def drain():
            began, cpu = time.perf_counter(), time.thread_time()
            while (loop.step() == 0 or buffer.status()["queued"]) and loop.failure is None:
                pass
            result.update(wall_s=time.perf_counter() - began,
                          cpu_s=time.thread_time() - cpu)

        thread = threading.Thread(target=drain)  # thread_time() is this thread's alone
        thread.start()
        thread.join()
        loop.client.close()
        if hasattr(buffer, "close"):
            buffer.close()
        assert loop.failure is None
    assert hub.count() == total
    print(f"  {result['wall_s']:.1f} s, kiosk CPU {result['cpu_s']:.1f} s", flush=True)
    return {**result, "buffer": kind}


def drain_plain(directory, total):
    hub = Hub(directory)
    presses = make_presses(1, total)
    print(f"sync: the same {total:,} presses from a plain client", flush=True)
    with hub, requests.Session() as session:
        headers = {"Authorization": f"Bearer {hub.token}", "Content-Type": "application/json"}
        began, cpu = time.perf_counter(), time.thread_time()
        for i in range(0, total, BATCH):
            body = json.dumps({"device_id": "kiosk-1", "boot_id": BOOT, "uptime_ms": 10**9,
                               "presses": presses[i:i + BATCH]})
            response = session.post(hub.url + "/api/v1/presses", data=body, headers=headers,
                                    timeout=60)
            assert response.status_code == 200, response.text
        wall, cpu = time.perf_counter() - began, time.thread_time() - cpu
    assert hub.count() == total
    print(f"  {wall:.1f} s, client CPU {cpu:.1f} s", flush=True)
    return {"wall_s": wall, "cpu_s": cpu}


def _backlog(directory, total):
    """A buffer holding *total* unsynced presses: (buffer, description)."""
    try:
        from kiosk.store import INSERT, PressBuffer
    except ImportError:
        return BacklogInMemory(make_presses(1, total)), "in-memory buffer"
    buffer = PressBuffer(directory / "kiosk", max_presses=total + 1, device_id="kiosk-1")
    print(f"sync: writing {total:,} presses into the kiosk's buffer", flush=True)
    # One transaction, not one fsync per press as the daemon does: setup, not measured.
    for first in range(1, total + 1, 100_000):
        rows = [(p["seq"], p["id"], p["mood"], p["pressed_at"], p["boot_id"], p["uptime_ms"],
                 int(p["clock_synced"]), int(p["misuse"]))
                for p in make_presses(first, min(total, first + 99_999))]
        with buffer.transaction():
            buffer.conn.executemany(INSERT, rows)
    return buffer, "SQLite PressBuffer"


class BacklogInMemory:
    """The PressBuffer interface over a list in seq order (synced presses form a prefix)."""

    def __init__(self, presses):
        self.presses, self.next, self.meta = presses, 0, {}

    def pending(self, limit):
        return self.presses[self.next:self.next + limit]

    def mark_synced(self, seqs, synced_at=None):
        assert seqs[0] == self.presses[self.next]["seq"]
        self.next += len(seqs)

    def status(self):
        queued = len(self.presses) - self.next
        return {"queued": queued, "parked": 0, "oldest_queued_at":
                self.presses[self.next]["pressed_at"] if queued else None}

    def park(self, seq, reason):
        raise AssertionError(f"press {seq} parked: {reason}")

    def prune_synced(self, older_than):
        return 0

    def get_meta(self, key, default=None):
        return self.meta.get(key, default)

    def set_meta(self, key, value):
        self.meta[key] = value
