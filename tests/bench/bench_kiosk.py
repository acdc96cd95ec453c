"""The kiosk daemon: press-to-durable latency, and what an idle `kiosk run` costs.

Latency: a press on a real Button (MockFactory) → callback → queue → writer thread →
PressBuffer.record (INSERT + COMMIT, WAL, synchronous=FULL) → the daemon's stored counter,
timed press by press from the falling edge. The release follows untimed, as a finger's does
(releasing at once would make the pin thread compete with the writer as no finger can).
The baseline, run side by side (alternating press by press) in the same directory: a bare
sqlite3 INSERT + COMMIT of the same row with the same pragmas. Target: p50 and p99 ratios ≤ 1.5.

Idle: a real `kiosk run --simulate 0` (mock pins) with a hub_url, so its sync thread runs as
on a kiosk (a stub hub on loopback answers the heartbeats): resident memory once ready
(target < 40 MB) and its CPU over KIOSK_IDLE_S seconds (default 10: no busy polling).
"""

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from kiosk.config import parse_config
from kiosk.daemon import Daemon
from kiosk.systemd import Notifier
from tests.support import wait_until

KIOSK = str(Path(sys.executable).with_name("kiosk"))
PRESSES = int(os.environ.get("KIOSK_BENCH_PRESSES", "2000"))
IDLE_S = float(os.environ.get("KIOSK_IDLE_S", "10"))
BUTTONS = {"very_unhappy": 5, "unhappy": 6, "happy": 13, "very_happy": 19}


class SteppingClock:
    """A clock 100 ms further on at every press, so no press is taken for bounce."""

    boot_id = "bench-boot"

    def __init__(self):
        self.ms = 0

    def now(self):
        return datetime(2026, 6, 1, tzinfo=UTC) + timedelta(milliseconds=self.ms)

    def uptime_ms(self):
        self.ms += 100
        return self.ms

    def synced(self):
        return True


def run():
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-kiosk-", dir=os.environ.get("TMPDIR")) as tmp:
        tmp = Path(tmp)
        daemon_ms, bare_ms = latencies(tmp)
        idle = idle_process(tmp / "idle")
    for name, q in (("p50", 0.50), ("p99", 0.99)):
        ours, base = quantile(daemon_ms, q), quantile(bare_ms, q)
        rows.append({"benchmark": f"kiosk: press-to-durable {name} (daemon store path vs bare "
                     "INSERT+COMMIT)", "figure": ours, "unit": "ms", "baseline": base,
                     "ratio": ours / base, "target": "≤ 1.5"})
    rows.append({"benchmark": "kiosk: idle `kiosk run --simulate 0` (sync on) resident memory",
                 "figure": idle["rss_mb"], "unit": "MB", "target": "< 40"})
    rows.append({"benchmark": f"kiosk: idle CPU over {IDLE_S:g} s", "figure": idle["cpu_pct"],
                 "unit": "% of a core", "target": "≈ 0"})
    return rows


def latencies(tmp):
    config = parse_config({"device_id": "bench-1", "data_dir": str(tmp / "daemon"),
                           "lockout_s": 0.0, "buttons": BUTTONS})
    factory = MockFactory()
    daemon = Daemon(config, factory, clock=SteppingClock(), notifier=Notifier({}))
    daemon.start()
    wait_until(daemon.store_up.is_set, message="the daemon's store")
    bare = BareSQLite(tmp / "bare" / "bare.db")
    buttons = list(daemon.hardware.buttons.values())
    ours, base = [], []
    print(f"kiosk: {PRESSES} presses through the daemon and {PRESSES} bare commits, "
          "alternating", flush=True)
    try:
        for i in range(PRESSES):
            pin = buttons[i % 4].pin
            before = daemon.stored
            began = time.perf_counter()
            pin.drive_low()  # the finger goes down ...
            assert daemon.wait_stored(before + 1, timeout=10)
            ours.append((time.perf_counter() - began) * 1000)
            pin.drive_high()  # ... and comes up later, as a real one does (≥ 50 ms)
            began = time.perf_counter()
            bare.insert(i + 1, 1 + i % 4)
            base.append((time.perf_counter() - began) * 1000)
    finally:
        daemon.stop()
        factory.reset()
        bare.close()
    print(f"  daemon p50 {quantile(ours, .5):.3f} ms, bare p50 {quantile(base, .5):.3f} ms",
          flush=True)
    return ours, base


class BareSQLite:
    """The plainest durable insert: same columns, same pragmas, one transaction per row."""

    def __init__(self, path):
        path.parent.mkdir(parents=True)
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute("CREATE TABLE presses (seq INTEGER PRIMARY KEY, id TEXT, mood INTEGER, "
                          "pressed_at TEXT, boot_id TEXT, uptime_ms INTEGER, clock_synced "
                          "INTEGER, misuse INTEGER, synced_at TEXT, parked_reason TEXT)")

    def insert(self, seq, mood):
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO presses (seq, id, mood, pressed_at, boot_id, uptime_ms, "
                          "clock_synced, misuse) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (seq, str(uuid.uuid4()), mood, now, "bench-boot", seq * 100, 1, 0))
        self.conn.execute("COMMIT")

    def close(self):
        self.conn.close()


class StubHub(BaseHTTPRequestHandler):
    """Answers the kiosk's heartbeats and (empty) batches as the hub would."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = {"server_time": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
        if self.path.endswith("/presses"):
            body = {"inserted": 0, "duplicates": 0}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def idle_process(directory):
    directory.mkdir()
    hub = ThreadingHTTPServer(("127.0.0.1", 0), StubHub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    config = directory / "kiosk.toml"
    config.write_text(f'device_id = "bench-idle"\ndata_dir = "{directory / "data"}"\n'
                      f'hub_url = "http://127.0.0.1:{hub.server_address[1]}"\n'
                      'token = "bench-token"\nsync_interval_s = 30\n[buttons]\n'
                      + "".join(f"{k} = {v}\n" for k, v in BUTTONS.items())
                      + "[leds]\nthanks = 26\n")
    log = directory / "kiosk.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIOSK_", "NOTIFY_"))}
    with log.open("w") as out:
        process = subprocess.Popen([KIOSK, "run", "--config", str(config), "--simulate", "0"],
                                   stdout=out, stderr=out, env=env)
    try:
        wait_until(lambda: "ready" in log.read_text() and "sync: " in log.read_text(),
                   timeout=30, message="kiosk run ready, sync started")
        time.sleep(1.0)  # let start-up settle before measuring
        cpu_before, began = _cpu_s(process.pid), time.monotonic()
        time.sleep(IDLE_S)
        cpu = _cpu_s(process.pid) - cpu_before
        elapsed = time.monotonic() - began
        rss_mb = _rss_kb(process.pid) / 1024
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        hub.shutdown()
        hub.server_close()
    print(f"kiosk: idle kiosk run: {rss_mb:.1f} MB resident, {cpu:.3f} CPU s in "
          f"{elapsed:.1f} s", flush=True)
    return {"rss_mb": rss_mb, "cpu_pct": 100 * cpu / elapsed}


def _cpu_s(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def quantile(values, q):
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]
