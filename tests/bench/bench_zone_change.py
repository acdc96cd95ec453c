"""Ingest while a location's time zone changes: a real `hub serve` takes batches from kiosks
at two locations while the location with 1,000,000 presses gets a new zone, on the admin page
and by `hub location edit` (the admin page runs that command in a process of its own).

Baseline: the same load with no change beside it. Contrast: the whole-lock way (the count
done inside the write transaction, as `hub rebuild-rollups` did before), in its own process.
The phases alternate (none, admin page, CLI, whole lock), REPEATS times; the figure is the
median of the runs' p99s, the spread their range. Latency counts from the moment a batch was
due (open loop), so a hub that stalls is charged for the queue behind it. Environment:
    ZONE_BENCH_PRESSES  presses at the location that changes zone (default 1000000)
    ZONE_BENCH_REPEATS  rounds of the four phases (default 3)
"""

import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests

from hub.store import Database, registry
from tests.support import free_port, wait_until

HUB = str(Path(sys.executable).with_name("hub"))
ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-01-01T00:00:00.000Z"
BOOT = "5b0f3a4e-8c2d-4e1f-9a6b-7c8d9e0f1a2b"
PRESSES = int(os.environ.get("ZONE_BENCH_PRESSES", "1000000"))
REPEATS = int(os.environ.get("ZONE_BENCH_REPEATS", "3"))
ZONES = ["Asia/Kolkata", "America/St_Johns", "Australia/Sydney", "Europe/Amsterdam"]
KIOSKS = 4  # two at the location that changes zone, two at another
BATCH = 20  # presses per batch
PERIOD_S = 0.1  # each kiosk sends a batch this often: 800 presses/s in all
PASSWORD = "bench password"


def run():
    with tempfile.TemporaryDirectory(prefix="bench-zone-") as tmp:
        path = Path(tmp) / "hub.db"
        print(f"zone change: seeding {PRESSES:,} presses", flush=True)
        tokens = seed(path, PRESSES)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([HUB, "--db", str(path), "serve", "--port", str(port),
                                   "--workers", "2"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _healthy(url), timeout=30, message="hub serve")
            runs = measure(path, url, tokens)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        check_rollups(path)
    return rows(runs)


def seed(path, presses):
    """Locations ams (the big one, all its presses from one device over 2025) and lon; the
    load's devices; an admin. The rollups come from `hub rebuild-rollups`."""
    db = Database(path)
    db.migrate(NOW)
    registry.ensure_secret_key(db)
    registry.add_location(db, "ams", "Amsterdam", "Europe/Amsterdam", None, NOW)
    registry.add_location(db, "lon", "London", "Europe/London", None, NOW)
    registry.add_device(db, "history", "ams", NOW)
    tokens = {f"k-{n}": registry.add_device(db, f"k-{n}", "ams" if n % 2 else "lon", NOW)
              for n in range(KIOSKS)}
    registry.add_user(db, "bench", PASSWORD, "admin", NOW)
    db.close()
    conn = sqlite3.connect(path, isolation_level=None)
    step = 365 * 86400 / presses
    conn.execute("BEGIN")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
        " INSERT INTO presses (device_id, seq, id, mood, pressed_at, device_pressed_at,"
        " received_at, time_source, misuse, location_id, boot_id, uptime_ms, clock_synced)"
        " SELECT 'history', i, printf('%08x-0000-4000-8000-%012x', i, i), 1 + (i * 7) % 4,"
        " t, t, t, 'device', i % 50 = 0, (SELECT id FROM locations WHERE slug = 'ams'),"
        " 'history-boot', i * 1000, 1"
        " FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', ? + i * ?, 'unixepoch') AS t FROM n)",
        (presses, int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()), step),
    )
    conn.execute("COMMIT")
    conn.close()
    subprocess.run([HUB, "--db", str(path), "rebuild-rollups"], check=True,
                   capture_output=True, timeout=600)
    return tokens


def measure(path, url, tokens):
    """{phase: [{"p99", "p50", "n", "errors", "seconds"}, ...]}, alternating the phases."""
    admin = _admin_session(url)
    load = Load(url, tokens)
    load.start()
    runs = {"none": [], "admin": [], "cli": [], "whole lock": []}
    zones = iter(ZONES * (3 * REPEATS))
    quiet_s = max(3.0, PRESSES / 150_000)  # about as long as a change takes
    try:
        for n in range(REPEATS):
            for phase in runs:
                began = time.monotonic()
                if phase == "none":
                    time.sleep(quiet_s)  # the load runs alone for this long (a measurement)
                elif phase == "admin":
                    _change_on_admin_page(url, admin, next(zones))
                elif phase == "cli":
                    subprocess.run([HUB, "--db", str(path), "location", "edit", "ams",
                                    "--timezone", next(zones)], check=True,
                                   capture_output=True, timeout=600)
                else:
                    subprocess.run([sys.executable, "-m", "tests.bench.bench_zone_change",
                                    "whole-lock", str(path), next(zones)], check=True,
                                   capture_output=True, timeout=600, cwd=ROOT)
                ended = time.monotonic()
                result = load.between(began, ended)
                runs[phase].append(result)
                print(f"  round {n + 1} {phase:10s} {ended - began:5.1f} s: p99"
                      f" {result['p99'] * 1000:7.1f} ms, p50 {result['p50'] * 1000:5.1f} ms,"
                      f" {result['n']} batches, {result['errors']} not 200", flush=True)
    finally:
        load.stop()
    return runs


def rows(runs):
    def summary(phase):
        p99s = [r["p99"] * 1000 for r in runs[phase]]
        errors = sum(r["errors"] for r in runs[phase])
        return statistics.median(p99s), f"{min(p99s):.0f}-{max(p99s):.0f}", errors

    base, base_spread, _ = summary("none")
    what = f"{PRESSES / 1e6:g}M presses"
    out = []
    for phase, how in (("admin", "on the admin page"), ("cli", "by `hub location edit`"),
                       ("whole lock", "the whole-lock way (before)")):
        p99, spread, errors = summary(phase)
        seconds = statistics.median(r["seconds"] for r in runs[phase])
        out.append({
            "benchmark": f"ingest p99 while a location of {what} changes zone {how}"
                         f" ({seconds:.0f} s; {errors} of its batches not 200; p99 spread"
                         f" {spread} ms) vs no change ({base_spread} ms)",
            "figure": p99, "unit": "ms", "baseline": base, "ratio": p99 / base,
            "target": "" if phase == "whole lock" else "0 not 200, p99 < 1 s"})
    return out


class Load:
    """KIOSKS threads, each sending a batch of BATCH presses every PERIOD_S (open loop:
    latency from when the batch was due); every answer kept as (due, latency, status)."""

    def __init__(self, url, tokens):
        self.url, self.tokens = url, tokens
        self.answers = []
        self.next_due = [0.0] * len(tokens)  # per kiosk: the batch not answered yet
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._kiosk, args=(device, token, n),
                                         daemon=True)
                        for n, (device, token) in enumerate(tokens.items())]

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def between(self, began, ended):
        """Latencies of the batches due in [began, ended), once all of them are answered."""
        wait_until(lambda: min(self.next_due) >= ended, timeout=120,
                   message="the batches of the phase answered")
        with self.lock:
            mine = [(latency, status) for due, latency, status in self.answers
                    if began <= due < ended]
        latencies = sorted(latency for latency, _ in mine)
        if not latencies:
            raise RuntimeError("no batch was due in the phase")
        return {"p99": _quantile(latencies, 0.99), "p50": _quantile(latencies, 0.50),
                "n": len(mine), "errors": sum(status != 200 for _, status in mine),
                "seconds": ended - began}

    def _kiosk(self, device, token, n):
        session = requests.Session()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        seq = 0
        due = self.next_due[n] = time.monotonic() + n * PERIOD_S / KIOSKS
        while not self.stopping.is_set():
            wait = due - time.monotonic()
            if wait > 0 and self.stopping.wait(wait):
                break
            presses = []
            for _ in range(BATCH):
                seq += 1
                presses.append({"seq": seq, "id": str(uuid.uuid4()), "mood": 1 + seq % 4,
                                "pressed_at": _utc(datetime.now(UTC)), "boot_id": BOOT,
                                "uptime_ms": seq, "clock_synced": True, "misuse": False})
            body = json.dumps({"device_id": device, "boot_id": BOOT, "uptime_ms": seq,
                               "presses": presses})
            # A 503 (the write lock held past busy_timeout) counts with its latency; the
            # load goes on with the next batch, as the latency of the retry is not the point.
            status = _post(session, self.url + "/api/v1/presses", body, headers)
            with self.lock:
                self.answers.append((due, time.monotonic() - due, status))
                due += PERIOD_S
                self.next_due[n] = due


def _post(session, url, body, headers):
    try:
        return session.post(url, data=body, headers=headers, timeout=30).status_code
    except requests.RequestException:
        return 0


def _utc(instant):
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _quantile(ordered, q):
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _healthy(url):
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _admin_session(url):
    session = requests.Session()
    csrf = _csrf(session.get(url + "/login", timeout=30))
    answer = session.post(url + "/login", timeout=30, allow_redirects=False, data={
        "username": "bench", "password": PASSWORD, "csrf_token": csrf})
    assert answer.status_code == 302, answer.text[:500]
    return session


def _csrf(response):
    return re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)


def _change_on_admin_page(url, session, timezone):
    page = url + "/admin/locations/ams"
    answer = session.post(page, timeout=600, allow_redirects=False, data={
        "csrf_token": _csrf(session.get(page, timeout=30)), "name": "Amsterdam",
        "timezone": timezone, "hours": "", "group": "", "window_min": "15",
        "min_presses": "4", "share_pct": "50", "silent_after_min": "15"})
    assert answer.status_code == 302, answer.text[:500]


def whole_lock_rebuild(path, timezone):
    """The way before: count ams's presses in the new zone inside the write transaction."""
    from hub.store.ingest import RollupCounter
    from hub.store.rollups import _INSERT_ROLLUP
    from hub.times import parse_timestamp, zone

    db = Database(path)
    try:
        with db.atomic():
            location_id = registry.location(db, "ams")["id"]
            counter = RollupCounter({location_id: zone(timezone)})
            for placed, mood, misuse in db.execute(
                    "SELECT pressed_at, mood, misuse FROM presses WHERE location_id = ?",
                    (location_id,)):
                counter.add(location_id, parse_timestamp(placed), placed, mood, misuse)
            db.execute("UPDATE locations SET timezone = ? WHERE id = ?", (timezone, location_id))
            db.execute("DELETE FROM rollups WHERE location_id = ?", (location_id,))
            db.executemany(_INSERT_ROLLUP, counter.rows())
    finally:
        db.close()


def check_rollups(path):
    """What was measured also counted right: every press is in the rollups once."""
    conn = sqlite3.connect(path)
    try:
        counted = conn.execute("SELECT sum(n1 + n2 + n3 + n4 + m1 + m2 + m3 + m4)"
                               " FROM rollups").fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM presses").fetchone()[0]
    finally:
        conn.close()
    assert counted == stored, (counted, stored)


if __name__ == "__main__" and sys.argv[1:2] == ["whole-lock"]:
    whole_lock_rebuild(sys.argv[2], sys.argv[3])
