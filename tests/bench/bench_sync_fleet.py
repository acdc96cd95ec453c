"""How many kiosks can one `hub serve` carry on this machine, honestly?

Each simulated kiosk does what kiosk/sync.py does every sync interval (60 s): one
POST /api/v1/presses with the press made since its last sync, its envelope carrying the
heartbeat's fields (so that batch is the interval's heartbeat), on a fresh connection (a
kiosk's keep-alive never survives 60 s). The kiosks' start times are spread at random over
the interval, so N kiosks make N/60 syncs per second. One single-threaded, non-blocking load
generator (selectors, raw sockets) plays the whole fleet in this process, open loop: a
request's latency counts from the moment it was due, so a hub that falls behind is charged for
the queue it builds (no coordinated omission).

What keeps it from flattering the hub:
- every request carries a press the hub has never seen: the kiosks live for the whole
  benchmark, their seqs go on from level to level and run to run, every press has a fresh id;
  the hub's own counters (GET /metrics) are read before and after each level and the level is
  marked INVALID if the hub counted a duplicate, or stored other than what was sent;
- what the generator sent (requests, presses) and what the hub answered are counted on the
  client side and printed beside the hub's counters;
- each level lasts one whole sync interval, so every kiosk of the level syncs exactly once;
- the whole ladder runs REPEATS times (a run stops at its first failing level); the table
  shows the median and the range of p99 and errors per level, and the figure carried is the
  highest level whose median p99 is under 1 s with no error and no invalid count in any run
  (a level a run never reached counts as a failure in that run).

Environment:
    SYNC_FLEET_LEVELS    comma-separated fleet sizes (default 10000,20000,40000,60000: 4 levels
                         x 3 runs x 60 s is at most 12 minutes; 60,000 is the target)
    SYNC_FLEET_INTERVAL  the kiosks' sync interval and so each level's length, in seconds
                         (default 60, as kiosks sync; shorter only for a quick check of the
                         benchmark itself: the output says so, and N kiosks at 10 s load the
                         hub like 6·N kiosks at 60 s)
    SYNC_FLEET_REPEATS   runs of the whole ladder (default 3)
    SYNC_FLEET_HEARTBEAT 1: a separate POST /api/v1/heartbeat after each batch, as kiosks
                         did before the batch carried the heartbeat; default 0
    SYNC_FLEET_WORKERS   `hub serve --workers` (default 2, hub serve's default)
"""

import json
import os
import random
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from hub.store import Database, registry
from tests.bench import hub_counters
from tests.support import free_port, wait_until

HUB = str(Path(sys.executable).with_name("hub"))
NOW = "2026-01-01T00:00:00.000Z"
BOOT = "0e8c6a57-3f4c-4f0a-9d1e-6b2a7c9d8e01"
TARGET = 60_000  # issue 21; 100,000 is the aim
KIOSK_INTERVAL_S = 60.0  # what kiosks really do (sync_interval_s of a deployed kiosk)
P99_LIMIT_S = 1.0
REQUEST_TIMEOUT_S = 10.0
HEARTBEAT = os.environ.get("SYNC_FLEET_HEARTBEAT", "0") == "1"


def run():
    levels = [int(n) for n in os.environ.get(
        "SYNC_FLEET_LEVELS", "10000,20000,40000,60000").split(",")]
    interval = float(os.environ.get("SYNC_FLEET_INTERVAL", str(KIOSK_INTERVAL_S)))
    repeats = int(os.environ.get("SYNC_FLEET_REPEATS", "3"))
    workers = int(os.environ.get("SYNC_FLEET_WORKERS", "2"))
    if interval != KIOSK_INTERVAL_S:
        print(f"fleet: a {interval:g} s sync interval, not the kiosks' {KIOSK_INTERVAL_S:g} s:"
              f" a quick check of the benchmark, not its figure ({max(levels)} kiosks at"
              f" {interval:g} s load the hub like {max(levels) * KIOSK_INTERVAL_S / interval:,.0f}"
              f" at {KIOSK_INTERVAL_S:g} s)", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        path = Path(tmp) / "hub.db"
        print(f"fleet: registering {max(levels)} devices", flush=True)
        kiosks = [Kiosk(d, t) for d, t in register(path, max(levels))]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([HUB, "--db", str(path), "serve", "--port", str(port),
                                   "--workers", str(workers)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: _healthy(url), timeout=30, message="hub serve")
            Fleet(port, kiosks[:1000], interval, seed=0).run(3)  # warm up: workers, caches
            runs = {n: [] for n in levels}
            for repeat in range(repeats):
                for step, n in enumerate(levels):
                    result = level(server, url, port, kiosks[:n], interval,
                                   seed=1 + repeat * len(levels) + step)
                    runs[n].append(result)
                    print(f"fleet: run {repeat + 1}/{repeats}, " + describe(n, interval, result),
                          flush=True)
                    if not passed(result):
                        break
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return summary(runs, repeats, interval, workers)


def level(server, url, port, kiosks, interval, seed):
    """One fleet level for one sync interval; the generator's counts beside the hub's."""
    before = hub_counters.read(url)
    hub_cpu = process_tree_cpu(server.pid)
    result = Fleet(port, kiosks, interval, seed).run(interval)
    result["hub_cpu_s"] = process_tree_cpu(server.pid) - hub_cpu
    # Every request answered: the counters are final. Otherwise requests the generator gave
    # up on may still be stored: wait until the counters stop moving.
    after = hub_counters.read(url) if not result["errors"] else hub_counters.settled(url)
    result["hub"] = hub_counters.difference(after, before)
    result["problems"] = problems(result)
    return result


def problems(result):
    """Why the hub's counters do not match what was sent (an invalid level), or []."""
    hub, found = result["hub"], []
    if hub["duplicate"]:
        found.append(f"the hub counted {hub['duplicate']} duplicates where none were sent")
    if hub["new"] > result["presses_sent"]:
        found.append(f"the hub stored {hub['new']} presses, {result['presses_sent']} were sent")
    if hub["new"] < result["inserted"]:
        found.append(f"the hub answered {result['inserted']} presses stored but counted"
                     f" {hub['new']}")
    if not result["errors"] and hub["new"] != result["presses_sent"]:
        found.append(f"every request answered 200, yet the hub stored {hub['new']} of"
                     f" {result['presses_sent']} presses")
    if result["answered_duplicates"]:
        found.append(f"the hub answered {result['answered_duplicates']} presses as duplicates")
    return found


def passed(result):
    return result["p99"] < P99_LIMIT_S and not result["errors"] and not result["problems"]


def describe(n, interval, r):
    errors = ", ".join(f"{count} {why}" for why, count in sorted(r["error_kinds"].items()))
    gen_share = r["cpu_s"] / r["elapsed_s"]
    text = (f"{n} kiosks, {interval:g} s: sent {r['requests']} requests ({r['rate']:.0f}/s)"
            f" with {r['presses_sent']} presses; answered 200: {r['ok']} (inserted"
            f" {r['inserted']}, duplicates {r['answered_duplicates']}); hub counted new"
            f" {r['hub']['new']}, duplicate {r['hub']['duplicate']}; p50"
            f" {r['p50'] * 1000:.0f} ms, p99 {r['p99'] * 1000:.0f} ms, max"
            f" {r['max'] * 1000:.0f} ms; {r['errors']} errors{f' ({errors})' if errors else ''};"
            f" CPU: hub {r['hub_cpu_s']:.1f} s, generator {r['cpu_s']:.1f} s"
            f" ({gen_share:.0%} of a core)")
    if gen_share > 0.5:
        text += "\n  WARNING: the generator used over half a core: it may be the bottleneck"
    for problem in r["problems"]:
        text += f"\n  INVALID: {problem}"
    return text


def summary(runs, repeats, interval, workers):
    """The table rows: the carried figure, p99 per level (median, range), and a detail block
    with errors and the counts sent and counted per level."""
    quick = "" if interval == KIOSK_INTERVAL_S else f", {interval:g} s interval: a quick check"
    how = (f"{workers} workers" + (", a separate heartbeat" if HEARTBEAT
                                   else ", the batch is the heartbeat") + quick)
    lines = [
        f"Fleet ladder ({how}), {repeats} runs; p99 and errors as median (min-max) over the"
        " runs that reached the level; counts per run as min-max.",
        "",
        "| kiosks | runs | p99 ms | errors | requests sent | presses sent | hub: new"
        " | hub: duplicate | valid |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows, carried, failed = [], 0, False
    for n, results in runs.items():
        if not results:
            lines.append(f"| {n} | 0 | not reached: a lower level failed in every run |"
                         " | | | | | |")
            continue
        p99s = [r["p99"] * 1000 for r in results] + [float("inf")] * (repeats - len(results))
        errors = [r["errors"] for r in results]
        valid = all(not r["problems"] for r in results)
        ok = statistics.median(p99s) < P99_LIMIT_S * 1000 and not any(errors) and valid
        failed = failed or not ok
        if not failed:
            carried = n
        lines.append(
            f"| {n} | {len(results)} | {_median_range(p99s)} | {_median_range(errors)}"
            f" | {_span(r['requests'] for r in results)}"
            f" | {_span(r['presses_sent'] for r in results)}"
            f" | {_span(r['hub']['new'] for r in results)}"
            f" | {_span(r['hub']['duplicate'] for r in results)}"
            f" | {'yes' if valid else 'INVALID'} |")
        measured = [p for p in p99s if p != float("inf")]
        rows.append({
            "benchmark": f"fleet: p99 at {n} kiosks ({len(results)} of {repeats} runs reached it;"
                         f" errors {_median_range(errors)}; new presses only:"
                         f" {'checked' if valid else 'INVALID'})",
            "figure": statistics.median(p99s), "spread": _range(measured), "unit": "ms",
            "target": P99_LIMIT_S * 1000})
    rows.insert(0, {"benchmark": f"fleet: kiosks carried, median p99 < 1 s, no errors in"
                                 f" {repeats} runs ({how})",
                    "figure": carried, "unit": "kiosks", "target": f"≥ {TARGET:,}"})
    print("\n".join(lines), flush=True)
    return rows + [{"detail": "\n".join(lines)}]


def _median_range(values):
    values = list(values)
    median = statistics.median(values)
    shown = "∞" if median == float("inf") else f"{median:.0f}"
    measured = [v for v in values if v != float("inf")]
    return f"{shown} ({_range(measured)})" if measured else shown


def _range(values):
    values = list(values)
    return f"{min(values):.0f}-{max(values):.0f}" if values else ""


def _span(values):
    values = list(values)
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}-{high}"


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


def _healthy(url):
    try:
        return requests.get(url + "/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def _request(path, token, body):
    data = json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n").encode() + data


class Kiosk:
    """One simulated kiosk: its token and its last seq, kept for the whole benchmark, so each
    batch carries a press the hub has never seen (a new seq, a new id)."""

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
    """Plays *kiosks* syncing every *interval* seconds against 127.0.0.1:*port*."""

    def __init__(self, port, kiosks, interval, seed=1):
        self.address = ("127.0.0.1", port)
        self.kiosks = kiosks
        self.interval = interval
        rand = random.Random(seed)
        self.offsets = [(rand.uniform(0, interval), i) for i in range(len(kiosks))]

    def run(self, seconds):
        selector = selectors.DefaultSelector()
        latencies = []
        counts = Counter()
        kinds = Counter()
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        start = time.monotonic()
        schedule = sorted((start + offset + k * self.interval, i)
                          for offset, i in self.offsets
                          for k in range(int((seconds - offset) // self.interval) + 1)
                          if offset + k * self.interval < seconds)
        due = 0
        open_requests = 0
        next_sweep = start
        while due < len(schedule) or open_requests:
            now = time.monotonic()
            while due < len(schedule) and schedule[due][0] <= now:
                when, i = schedule[due]
                due += 1
                self._start(selector, self.kiosks[i], "batch", when, counts)
                open_requests += 1
            wait = (schedule[due][0] - now) if due < len(schedule) else 0.05
            for key, events in selector.select(timeout=max(0.0, min(wait, 0.05))):
                done = self._progress(selector, key, events)
                if done is None:
                    continue
                open_requests -= 1
                state, outcome = done
                finished = time.monotonic()
                latencies.append(finished - state["due"])
                if outcome != "200":
                    kinds[outcome] += 1
                    continue
                counts["ok"] += 1
                if state["kind"] == "batch":
                    answer = json.loads(state["in"].partition(b"\r\n\r\n")[2])
                    counts["inserted"] += answer["inserted"]
                    counts["answered_duplicates"] += answer["duplicates"]
                    if HEARTBEAT:  # then the heartbeat, as kiosks did
                        self._start(selector, state["kiosk"], "heartbeat", finished, counts)
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
                    kinds["timeout"] += 1
                    latencies.append(now - key.data["due"])
        elapsed = time.monotonic() - start
        used = resource.getrusage(resource.RUSAGE_SELF)
        selector.close()
        latencies.sort()
        count = len(latencies)
        return {
            "requests": counts["requests"], "presses_sent": counts["presses_sent"],
            "ok": counts["ok"], "inserted": counts["inserted"],
            "answered_duplicates": counts["answered_duplicates"],
            "errors": sum(kinds.values()), "error_kinds": dict(kinds),
            "rate": count / elapsed, "elapsed_s": elapsed,
            "p50": latencies[count // 2] if count else 0.0,
            "p99": latencies[min(count - 1, int(count * 0.99))] if count else 0.0,
            "max": latencies[-1] if count else 0.0,
            "cpu_s": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime,
        }

    def _start(self, selector, kiosk, kind, due, counts):
        now = time.time()
        data = kiosk.batch(now) if kind == "batch" else kiosk.heartbeat(now)
        counts["requests"] += 1
        counts["presses_sent"] += kind == "batch"  # one press a batch: the busy case
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(self.address)
        state = {"kiosk": kiosk, "kind": kind, "due": due, "out": data, "in": b""}
        selector.register(sock, selectors.EVENT_WRITE, state)

    def _progress(self, selector, key, events):
        """Advance one connection; (state, "200" or why not) when its request is over."""
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
        except OSError as error:
            selector.unregister(sock)
            sock.close()
            return state, type(error).__name__
        selector.unregister(sock)
        sock.close()
        status = state["in"][9:12].decode("ascii", "replace")
        return state, status if status else "closed without an answer"


if __name__ == "__main__":
    print(run())
