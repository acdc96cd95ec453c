"""The hub's own press counters, read from GET /metrics: what a benchmark checks its load
against (new presses only, nothing counted twice, nothing lost)."""

import time

import requests

NAMES = {"hub_presses_ingested_total": "new", "hub_presses_duplicate_total": "duplicate"}


def read(url):
    """{"new": n, "duplicate": m}: the hub's counters now (cumulative)."""
    text = requests.get(url + "/metrics", timeout=30).text
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in NAMES:
            found[NAMES[name]] = int(float(value))
    missing = set(NAMES.values()) - set(found)
    if missing:
        raise RuntimeError(f"{url}/metrics has no counter for {sorted(missing)}")
    return found


def settled(url, quiet_s=1.0, timeout=60.0):
    """The counters once they stop moving: requests a client gave up on may still be in the
    hub's queue, and they are stored (and counted) after the client stopped listening."""
    deadline = time.monotonic() + timeout
    last = read(url)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)  # a quiet period is the measurement itself, not a wait for a flag
        now = read(url)
        if now == last:
            return now
        last = now
    return last


def difference(after, before):
    return {key: after[key] - before[key] for key in NAMES.values()}
