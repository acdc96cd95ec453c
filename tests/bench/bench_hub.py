"""Hub benchmarks: ingest through HTTP (a real `hub serve`) against plain SQLite inserts, one
kiosk sending big batches (alternating HTTP and plain rounds); contended ingest, 32 clients
sending 3-press batches, against the ceiling of one durable commit per request
(tests/bench/contended.py); and the hourly query for a year with 5 million presses in the
database. HUB_BENCH_PARTS picks some of ingest, contended, hourly (default: all three)."""

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from hub import reports
from hub.app import create_app
from hub.db import close_connections, get_db
from hub.store import Database, registry
from hub.store.ingest import _INSERT_PRESS
from hub.times import format_utc, hour_key
from tests.bench import contended, hub_counters
from tests.support import free_port, wait_until

HUB = str(Path(sys.executable).with_name("hub"))
BOOT = "2c1e7c8e-5d8a-4c43-9a55-0d3f4e0c2b11"
START = datetime(2026, 6, 1, tzinfo=UTC)
NOW = "2026-01-01T00:00:00.000Z"
ROUNDS = 3


def run():
    parts = os.environ.get("HUB_BENCH_PARTS", "ingest,contended,hourly").split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        tmp = Path(tmp)
        if "ingest" in parts:
            for batch_size, total in ((100, 20_000), (1000, 40_000)):
                rows.append(ingest(tmp, batch_size, total))
        if "contended" in parts:
            rows.extend(contended.run(tmp))
        if "hourly" in parts:
            rows.extend(hourly_year(tmp / "year.db", presses=5_000_000))
    return rows


def new_database(path, devices):
    db = Database(path)
    db.migrate(NOW)
    registry.ensure_secret_key(db)
    registry.add_location(db, "ams", "Amsterdam", "Europe/Amsterdam", None, NOW)
    tokens = {d: registry.add_device(db, d, "ams", NOW) for d in devices}
    registry.add_user(db, "bench", "bench password", "viewer", NOW)
    return db, tokens, registry.add_api_token(db, "bench", NOW)


def make_presses(total):
    return [{"seq": n, "id": str(uuid.UUID(int=n, version=4)), "mood": 1 + n % 4,
             "pressed_at": format_utc(START + timedelta(seconds=n)), "boot_id": BOOT,
             "uptime_ms": n * 1000, "clock_synced": True, "misuse": n % 50 == 0}
            for n in range(1, total + 1)]


def ingest(tmp, batch_size, total):
    """One kiosk sending batch after batch to a real `hub serve` (gunicorn), against the same
    rows inserted into the same schema, same pragmas, one transaction a batch; ROUNDS rounds,
    each a third of the batches, the two ways alternating which goes first."""
    print(f"ingest: {total} presses in batches of {batch_size}, {ROUNDS} rounds", flush=True)
    presses = make_presses(total)
    batches = [presses[i:i + batch_size] for i in range(0, total, batch_size)]
    per_round = -(-len(batches) // ROUNDS)

    db, tokens, _ = new_database(tmp / f"http-{batch_size}.db", ["kiosk-1"])
    db.close()
    bodies = [json.dumps({"device_id": "kiosk-1", "boot_id": BOOT, "uptime_ms": 10**9,
                          "presses": b}).encode() for b in batches]
    direct, _, _ = new_database(tmp / f"direct-{batch_size}.db", ["kiosk-1"])
    location_id = registry.location(direct, "ams")["id"]
    tuples = [[("kiosk-1", p["seq"], p["id"], p["mood"], p["pressed_at"], p["pressed_at"],
                NOW, "device", int(p["misuse"]), location_id, BOOT, p["uptime_ms"], 1)
               for p in b] for b in batches]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([HUB, "--db", str(tmp / f"http-{batch_size}.db"), "serve",
                               "--port", str(port), "--workers", "2"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    session = requests.Session()
    headers = {"Authorization": f"Bearer {tokens['kiosk-1']}",
               "Content-Type": "application/json"}

    def over_http(part):
        for body in bodies[part]:
            response = session.post(url + "/api/v1/presses", data=body, headers=headers,
                                    timeout=30)
            assert response.status_code == 200, response.text

    def plain(part):
        for rows in tuples[part]:
            with direct.atomic():
                direct.executemany(_INSERT_PRESS, rows)

    rates = {"http": [], "plain": []}
    try:
        wait_until(lambda: _healthy(session, url), timeout=30, message="hub serve")
        before = hub_counters.read(url)
        for n in range(ROUNDS):
            part = slice(n * per_round, (n + 1) * per_round)
            sent = sum(len(b) for b in batches[part])
            ways = (("http", over_http), ("plain", plain))
            for name, way in ways if n % 2 == 0 else reversed(ways):
                began = time.perf_counter()
                way(part)
                rates[name].append(sent / (time.perf_counter() - began))
        counted = hub_counters.difference(hub_counters.read(url), before)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        direct.close()
    if counted != {"new": total, "duplicate": 0}:
        raise AssertionError(f"ingest: sent {total} new presses, the hub counted {counted}")

    ratios = [h / d for h, d in zip(rates["http"], rates["plain"], strict=True)]
    print(f"  http {_spread(rates['http'])}/s, plain {_spread(rates['plain'])}/s, ratio"
          f" {_spread(ratios, '{:.2f}')}; the hub counted {counted['new']} new, 0 duplicate",
          flush=True)
    return {"benchmark": f"hub ingest, batch {batch_size}: HTTP vs plain SQLite insert",
            "figure": statistics.median(rates["http"]), "unit": "presses/s",
            "spread": f"{_spread(rates['http'])} (ratio {_spread(ratios, '{:.2f}')})",
            "baseline": statistics.median(rates["plain"]), "ratio": statistics.median(ratios),
            "target": "≥ 0.3" if batch_size == 1000 else ""}


def _spread(values, fmt="{:,.0f}"):
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"


def _healthy(session, url):
    try:
        return session.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


ZONES = {"ams": "Europe/Amsterdam", "lon": "Europe/London", "nyc": "America/New_York",
         "tyo": "Asia/Tokyo", "syd": "Australia/Sydney"}


def hourly_year(path, presses):
    """5 million presses over 2025 in five whole-hour zones; query one location's year."""
    print(f"hourly: seeding {presses:,} presses", flush=True)
    began = time.perf_counter()
    db = Database(path)
    db.migrate(NOW)
    for slug, tz in ZONES.items():
        registry.add_location(db, slug, slug, tz, None, NOW)
        registry.add_device(db, f"k-{slug}", slug, NOW)
    registry.add_user(db, "bench", "bench password", "viewer", NOW)
    token = registry.add_api_token(db, "bench", NOW)
    db.close()
    _seed(path, presses)
    print(f"  seeded in {time.perf_counter() - began:.0f} s", flush=True)

    app = create_app({"DATABASE": str(path)})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/locations/ams/hourly?from=2025-01-01&to=2025-12-31"
    assert len(client.get(url, headers=headers).json["hours"]) == 8760
    with app.app_context():
        db = get_db()
        query = _median_ms(lambda: reports.hourly(db, "ams", date(2025, 1, 1),
                                                  date(2025, 12, 31)), 15)
    whole = _median_ms(lambda: client.get(url, headers=headers), 15)
    close_connections(app)

    # The plain way: group the raw presses of the year by hour.
    conn = sqlite3.connect(path)
    location_id = conn.execute("SELECT id FROM locations WHERE slug = 'ams'").fetchone()[0]
    scan = (
        "SELECT substr(pressed_at, 1, 13), mood, count(*) FROM presses"
        " WHERE location_id = ? AND pressed_at >= ? AND pressed_at < ? AND misuse = 0"
        " GROUP BY 1, 2"
    )
    span = (location_id, "2024-12-31T23:00:00.000Z", "2025-12-31T23:00:00.000Z")
    baseline = _median_ms(lambda: conn.execute(scan, span).fetchall(), 3)
    conn.close()
    print(f"  hourly for a year: query {query:.1f} ms, whole GET {whole:.1f} ms"
          f" (raw scan {baseline:.0f} ms)", flush=True)
    what = f"1 year, {presses / 1e6:g}M presses in DB, vs GROUP BY raw"
    return [
        {"benchmark": f"hub hourly query (rollups), {what}",
         "figure": query, "unit": "ms", "baseline": baseline, "ratio": query / baseline,
         "target": "< 50 ms"},
        {"benchmark": f"hub GET /hourly with JSON, {what}",
         "figure": whole, "unit": "ms", "baseline": baseline, "ratio": whole / baseline,
         "target": "< 50 ms"},
    ]


def _median_ms(action, times):
    laps = []
    for _ in range(times):
        began = time.perf_counter()
        action()
        laps.append((time.perf_counter() - began) * 1000)
    return statistics.median(laps)


def _seed(path, presses):
    """Raw presses by SQL (a recursive CTE), then rollups from them per UTC hour: every zone
    here is a whole number of hours from UTC, so a UTC hour is exactly one local hour."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    year_start = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) - 3600 * 14
    per_location = presses // len(ZONES)
    step = (366 * 86400) / per_location
    conn.execute("BEGIN")
    for slug in ZONES:
        location_id = conn.execute("SELECT id FROM locations WHERE slug = ?",
                                   (slug,)).fetchone()[0]
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " INSERT INTO presses (device_id, seq, id, mood, pressed_at, device_pressed_at,"
            " received_at, time_source, misuse, location_id, boot_id, uptime_ms, clock_synced)"
            " SELECT ?, i, printf('%08x-0000-4000-8000-%012x', i, i), 1 + (i * 7) % 4,"
            " t, t, t, 'device', i % 50 = 0, ?, ?, i * 1000, 1"
            " FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', ? + i * ?, 'unixepoch') AS t FROM n)",
            (per_location, f"k-{slug}", location_id, BOOT, year_start, step),
        )
        hours = conn.execute(
            "SELECT substr(pressed_at, 1, 13),"
            " sum(mood = 1 AND NOT misuse), sum(mood = 2 AND NOT misuse),"
            " sum(mood = 3 AND NOT misuse), sum(mood = 4 AND NOT misuse),"
            " sum(mood = 1 AND misuse), sum(mood = 2 AND misuse),"
            " sum(mood = 3 AND misuse), sum(mood = 4 AND misuse)"
            " FROM presses WHERE location_id = ? GROUP BY 1",
            (location_id,),
        ).fetchall()
        tz = ZoneInfo(ZONES[slug])
        conn.executemany(
            "INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(location_id, hour_key(start), start.astimezone(tz).isoformat(), *counts)
             for utc_hour, *counts in hours
             for start in [datetime.fromisoformat(utc_hour + ":00:00+00:00")]],
        )
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    os.sync()
