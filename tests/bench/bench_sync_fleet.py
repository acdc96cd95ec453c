"""How many kiosks can one `hub serve` carry on this machine?

Each simulated kiosk does what kiosk/sync.py does every sync_interval_s (60 s here): one
POST /api/v1/presses with the press(es) made since the last sync, its envelope carrying the
heartbeat's fields (so that batch is the interval's heartbeat), on a fresh connection (a
kiosk's keep-alive never survives 60 s).
The kiosks' start times are spread at random over the minute, so N kiosks make N/60 syncs per
second. One single-threaded, non-blocking load generator (selectors, raw sockets) plays the
whole fleet in this process, open loop: a request's latency counts from the moment it was
due, so a hub that falls behind is charged for the queue it builds (no coordinated omission).

Levels rise until p99 latency reaches 1 s or requests fail. Environment:
    SYNC_FLEET_LEVELS   comma-separated fleet sizes (default 10000,20000,...,60000)
    SYNC_FLEET_SECONDS  seconds measured per level (default 30)
    SYNC_FLEET_HEARTBEAT  1: a separate POST /api/v1/heartbeat after each batch, as kiosks
                        did before the batch carried the heartbeat (two requests per kiosk
                        and minute); default 0, as kiosk/sync.py does now
    SYNC_FLEET_WORKERS  `hub serve --workers` (default 2, hub serve's default; 4 and 8 did
                        no better here: the hub's writes are serialised by SQLite's lock)
"""

import json
import os
import random
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from hub.store import Database, registry
from tests.support import free_port, wait_until

HUB = str(Path(sys.executable).with_name("hub"))
NOW = "2026-01-01T00:00:00.000Z"
BOOT = "0e8c6a57-3f4c-4f0a-9d1e-6b2a7c9d8e01"
TARGET = 30_000
INTERVAL_S = 60.0
P99_LIMIT_S = 1.0
REQUEST_TIMEOUT_S = 10.0
HEARTBEAT = os.environ.get("SYNC_FLEET_HEARTBEAT", "0") == "1"


def run():
    levels = [int(n) for n in os.environ.get(
        "SYNC_FLEET_LEVELS", "10000,20000,30000,40000,50000,60000").split(",")]
    seconds = float(os.environ.get("SYNC_FLEET_SECONDS", "30"))
    workers = int(os.environ.get("SYNC_FLEET_WORKERS", "2"))
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        path = Path(tmp) / "hub.db"
        print(f"fleet: registering {max(levels)} devices", flush=True)
        tokens = register(path, max(levels))
        port = free_port()
        server = subprocess.Popen([HUB, "--db", str(path), "serve", "--port", str(port),
                                   "--workers", str(workers)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _healthy(port), timeout=30, message="hub serve")
            Fleet(port, tokens[:1000], seed=0).run(3)  # warm up: workers, caches
            carried, results = 0, []
            for n in levels:
                hub_cpu = process_tree_cpu(server.pid)
                result = Fleet(port, tokens[:n]).run(seconds)
                result["hub_cpu_s"] = process_tree_cpu(server.pid) - hub_cpu
                results.append((n, result))
                print(f"fleet: {n} kiosks: {result['requests']} requests in {seconds:g}s "
                      f"({result['rate']:.0f}/s), p50 {result['p50'] * 1000:.0f} ms, "
                      f"p99 {result['p99'] * 1000:.0f} ms, max {result['max'] * 1000:.0f} ms, "
                      f"{result['errors']} errors; CPU: hub {result['hub_cpu_s']:.1f}s, "
                      f"generator {result['cpu_s']:.1f}s",
                      flush=True)
                if result["p99"] >= P99_LIMIT_S or result["errors"]:
                    break
                carried = n
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    how = f"{workers} workers" + (", a separate heartbeat" if HEARTBEAT else
                                  ", the batch is the heartbeat")
    rows = [{"benchmark": f"fleet: kiosks carried, p99 < 1 s ({how})",
             "figure": carried, "unit": "kiosks", "target": TARGET}]
    for n, result in results:
        rows.append({"benchmark": f"fleet: p99 latency at {n} kiosks",
                     "figure": result["p99"] * 1000, "unit": "ms",
                     "target": P99_LIMIT_S * 1000})
    return rows


def register(path, count):
    db = Database(path)
    db.migrate(NOW)
    registry.ensure_secret_key(db)
    registry.add_location(db, "ams", "Amsterdam", "Europe/Amsterdam", None, NOW)
    db.execute("PRAGMA synchronous = OFF")  # setup only: the hub's own connections use FULL
    tokens = [(f"kiosk-{i:05d}", registry.add_device(db, f"kiosk-{i:05d}", "ams", NOW))
              for i in range(count)]
    db.close()
    return tokens


def process_tree_cpu(pid):
    """CPU seconds (user + system) used so far by *pid* and its children (gunicorn workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pids.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


def _healthy(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def _request(path, token, body):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n").encode() + data


class Kiosk:
    """One simulated kiosk: its token, its next seq, its uptime."""

    def __init__(self, device_id, token):
        self.device_id, self.token, self.seq = device_id, token, 0

    def batch(self, now):
        self.seq += 1
        uptime = int(now * 1000)
        press = {"seq": self.seq, "id": str(uuid.uuid4()), "mood": 1 + self.seq % 4,
                 "pressed_at": _utc(now - 20), "boot_id": BOOT, "uptime_ms": uptime - 20_000,
                 "clock_synced": True, "misuse": False}
        envelope = {"device_id": self.device_id, "boot_id": BOOT, "uptime_ms": uptime,
                    "presses": [press]}
        if not HEARTBEAT:
            envelope.update(self.state(now))
        return _request("/api/v1/presses", self.token, envelope)

    def heartbeat(self, now):
        return _request("/api/v1/heartbeat", self.token, {
            "device_id": self.device_id, "boot_id": BOOT, "uptime_ms": int(now * 1000),
            **self.state(now)})

    def state(self, now):
        """The heartbeat's fields, as kiosk/sync.py sends them."""
        return {"sent_at": _utc(now), "queued": 0, "oldest_queued_at": None,
                "clock_synced": True, "version": "bench"}


def _utc(unix):
    instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=unix)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Fleet:
    """Plays *tokens* as kiosks syncing every INTERVAL_S against 127.0.0.1:*port*."""

    def __init__(self, port, tokens, seed=1):
        self.address = ("127.0.0.1", port)
        self.kiosks = [Kiosk(d, t) for d, t in tokens]
        rand = random.Random(seed)
        self.offsets = sorted((rand.uniform(0, INTERVAL_S), i) for i in range(len(tokens)))

    def run(self, seconds):
        selector = selectors.DefaultSelector()
        latencies, errors = [], 0
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        schedule = [(start + offset, i) for offset, i in self.offsets if offset < seconds]
        due = 0
        open_requests = 0
        next_sweep = start
        while due < len(schedule) or open_requests:
            now = time.monotonic()
            while due < len(schedule) and schedule[due][0] <= now:
                when, i = schedule[due]
                due += 1
                self._start(selector, self.kiosks[i], "batch", when)
                open_requests += 1
            wait = (schedule[due][0] - now) if due < len(schedule) else 0.05
            for key, events in selector.select(timeout=max(0.0, min(wait, 0.05))):
                done = self._progress(selector, key, events)
                if done is None:
                    continue
                open_requests -= 1
                state, ok = done
                finished = time.monotonic()
                latencies.append(finished - state["due"])
                if not ok:
                    errors += 1
                elif state["kind"] == "batch" and HEARTBEAT:  # then the heartbeat, as kiosks do
                    self._start(selector, state["kiosk"], "heartbeat", finished)
                    open_requests += 1
            now = time.monotonic()
            if now < next_sweep:
                continue
            next_sweep = now + 0.25
            for key in list(selector.get_map().values()):
                if now - key.data["due"] > REQUEST_TIMEOUT_S:
                    selector.unregister(key.fileobj)
                    key.fileobj.close()
                    open_requests -= 1
                    errors += 1
                    latencies.append(now - key.data["due"])
        elapsed = time.monotonic() - start
        used = resource.getrusage(resource.RUSAGE_SELF)
        selector.close()
        latencies.sort()
        count = len(latencies)
        return {
            "requests": count, "errors": errors, "rate": count / elapsed,
            "p50": latencies[count // 2] if count else 0.0,
            "p99": latencies[min(count - 1, int(count * 0.99))] if count else 0.0,
            "max": latencies[-1] if count else 0.0,
            "cpu_s": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime,
        }

    def _start(self, selector, kiosk, kind, due):
        now = time.time()
        data = kiosk.batch(now) if kind == "batch" else kiosk.heartbeat(now)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(self.address)
        state = {"kiosk": kiosk, "kind": kind, "due": due, "out": data, "in": b""}
        selector.register(sock, selectors.EVENT_WRITE, state)

    def _progress(self, selector, key, events):
        """Advance one connection; (state, ok) when its request is over, else None."""
        sock, state = key.fileobj, key.data
        try:
            if events & selectors.EVENT_WRITE:
                sent = sock.send(state["out"])
                state["out"] = state["out"][sent:]
                if not state["out"]:
                    selector.modify(sock, selectors.EVENT_READ, state)
                return None
            chunk = sock.recv(65536)
            if chunk:
                state["in"] += chunk
                return None
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            chunk = None
        selector.unregister(sock)
        sock.close()
        status = state["in"][9:12]
        return state, chunk == b"" and status == b"200"


if __name__ == "__main__":
    print(run())
