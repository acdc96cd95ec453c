"""Operator pages: server time to render the overview with 200 locations, and a location
page over a year with 5 million presses in the database; the JSON API for the same data
side by side (GET /api/v1/locations, GET /api/v1/locations/ams/hourly for the year)."""

import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hub.app import create_app
from hub.db import close_connections
from hub.store import Database, registry
from hub.store.ingest import recount_device_presses
from hub.times import hour_key
from tests.bench import bench_hub
from tests.bench.bench_hub import NOW, _median_ms

ZONE_CYCLE = ("Europe/Amsterdam", "Europe/London", "America/New_York", "Asia/Tokyo",
              "Asia/Kolkata", "America/St_Johns", "Australia/Sydney", "UTC")
OVERVIEW_NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
YEAR_END = datetime(2025, 12, 31, 18, 0, tzinfo=UTC)


def run():
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        tmp = Path(tmp)
        rows = [overview(tmp / "overview.db", locations=200)]
        rows.extend(location_year(tmp / "year.db", presses=5_000_000))
    return rows


def _app(path, now):
    """The app and a test client logged in as the operator "bench", as a browser is (pages
    take a session only; the JSON API takes the same session)."""
    app = create_app({"DATABASE": str(path), "CLOCK": lambda: now})
    client = app.test_client()
    form = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = client.post("/login", data={"username": "bench", "password": "bench password",
                                         "csrf_token": csrf})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    return app, client


def overview(path, locations):
    """200 locations in eight zones, 16 days of hourly rollups each (seeded directly)."""
    print(f"overview: seeding {locations} locations", flush=True)
    db = Database(path)
    db.migrate(NOW)
    registry.ensure_secret_key(db)
    registry.add_user(db, "bench", "bench password", "admin", NOW)
    rows = []
    for n in range(locations):
        slug, tz = f"loc-{n:03d}", ZONE_CYCLE[n % len(ZONE_CYCLE)]
        registry.add_location(db, slug, f"Location {n}", tz, None, NOW, group=f"G{n % 5}")
        registry.add_device(db, f"k-{n:03d}", slug, NOW)
        location_id = registry.location(db, slug)["id"]
        zone = ZoneInfo(tz)
        for h in range(16 * 24):
            start = (OVERVIEW_NOW - timedelta(hours=h)).replace(minute=0, second=0)
            local = start.astimezone(zone).replace(minute=0)
            rows.append((location_id, hour_key(local), local.isoformat(),
                         h % 3, h % 5, h % 7 + 3, h % 11 + 2, 0, 0, 0, 0))
    with db.atomic():
        db.executemany("INSERT OR IGNORE INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       rows)
    db.close()
    app, client = _app(path, OVERVIEW_NOW)
    headers = {}
    page = client.get("/", headers=headers)
    assert page.status_code == 200 and page.data.count(b"<svg class=\"sparkline\"") == locations
    html = _median_ms(lambda: client.get("/", headers=headers), 15)
    api = _median_ms(lambda: client.get("/api/v1/locations", headers=headers), 15)
    close_connections(app)
    print(f"  overview page {html:.1f} ms, GET /api/v1/locations {api:.1f} ms", flush=True)
    return {"benchmark": f"page / (overview), {locations} locations, 14-day sparklines,"
                         " vs JSON /api/v1/locations",
            "figure": html, "unit": "ms", "baseline": api, "ratio": html / api,
            "target": "< 100 ms"}


def location_year(path, presses):
    """bench_hub's year: 5M presses over 2025 in five zones; the ams page for the year."""
    print(f"location page: seeding {presses:,} presses", flush=True)
    began = time.perf_counter()
    db = Database(path)
    db.migrate(NOW)
    registry.ensure_secret_key(db)
    for slug, tz in bench_hub.ZONES.items():
        registry.add_location(db, slug, slug, tz, None, NOW)
        registry.add_device(db, f"k-{slug}", slug, NOW)
    registry.add_user(db, "bench", "bench password", "viewer", NOW)
    db.close()
    bench_hub._seed(path, presses)
    db = Database(path)
    with db.atomic():  # what ingest keeps up to date; the seeding bypassed it
        recount_device_presses(db)
    db.close()
    print(f"  seeded in {time.perf_counter() - began:.0f} s", flush=True)
    app, client = _app(path, YEAR_END)
    headers = {}
    page_url = "/locations/ams?period=custom&from=2025-01-01&to=2025-12-31&day=2025-06-02"
    week_url = "/locations/ams?period=7d"
    api_url = "/api/v1/locations/ams/hourly?from=2025-01-01&to=2025-12-31"
    assert client.get(page_url, headers=headers).status_code == 200
    year = _median_ms(lambda: client.get(page_url, headers=headers), 9)
    week = _median_ms(lambda: client.get(week_url, headers=headers), 9)
    api = _median_ms(lambda: client.get(api_url, headers=headers), 9)
    close_connections(app)
    print(f"  location page: year {year:.1f} ms, 7 days {week:.1f} ms;"
          f" JSON hourly for the year {api:.1f} ms", flush=True)
    what = f"{presses / 1e6:g}M presses in DB, vs JSON /hourly for the year"
    return [
        {"benchmark": f"page /locations/ams, 1 year, {what}", "figure": year, "unit": "ms",
         "baseline": api, "ratio": year / api, "target": "< 100 ms"},
        {"benchmark": f"page /locations/ams, 7 days, {what}", "figure": week, "unit": "ms",
         "baseline": api, "ratio": week / api, "target": "< 100 ms"},
    ]
