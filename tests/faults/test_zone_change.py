"""A location's time zone changes again and again while its kiosks storm into a real
`hub serve`: by `hub location edit` and on the admin page, over a history of presses
(20,000 in make test, 1,000,000 in make faults). After each change the hourly API shows only
hours of the new zone; kiosks see no error but retried 503s; the final invariant holds.
"""

import random
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.faults.figures import record, scale
from tests.faults.helpers import check_invariant, rows
from tests.support import wait_until
from tests.sync.processes import HubProcess, KioskProcess

pytestmark = pytest.mark.slow
STORM = 1200  # presses a minute, the most --simulate allows
ZONES = ["Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Europe/Amsterdam",
         "Australia/Lord_Howe", "America/New_York"]
ADMIN_PASSWORD = "admin password 1"
HISTORY_DAYS = 300


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(tmp_path)
    yield hub
    hub.stop()


def _seed_history(hub, presses):
    """*presses* of a device "history" over the last HISTORY_DAYS, written straight into the
    database before the hub starts, then counted by `hub rebuild-rollups` (setup, not fault)."""
    hub.add_device("history")
    now = datetime.now(UTC).replace(microsecond=0)
    first = int((now - timedelta(days=HISTORY_DAYS)).timestamp())
    step = HISTORY_DAYS * 86400 / presses
    conn = sqlite3.connect(hub.db, isolation_level=None)
    try:
        location_id = conn.execute("SELECT id FROM locations").fetchone()[0]
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)"
            " INSERT INTO presses (device_id, seq, id, mood, pressed_at, device_pressed_at,"
            " received_at, time_source, misuse, location_id, boot_id, uptime_ms, clock_synced)"
            " SELECT 'history', i, printf('%08x-0000-4000-8000-%012x', i, i), 1 + (i * 7) % 4,"
            " t, t, t, 'device', 0, ?, 'history-boot', i, 1"
            " FROM (SELECT i, strftime('%Y-%m-%dT%H:%M:%fZ', ? + i * ?, 'unixepoch') AS t"
            " FROM n)",
            (presses, location_id, first, step))
        conn.execute("COMMIT")
    finally:
        conn.close()
    hub.cli("rebuild-rollups")


def _admin_session(hub):
    hub.cli("user", "add", "admin", "--admin", "--password-stdin", input=ADMIN_PASSWORD + "\n")
    session = requests.Session()
    answer = session.post(hub.url + "/login", timeout=30, allow_redirects=False, data={
        "username": "admin", "password": ADMIN_PASSWORD,
        "csrf_token": _csrf(session.get(hub.url + "/login", timeout=30))})
    assert answer.status_code == 302, answer.text[:500]
    return session


def _csrf(response):
    return re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)


def _change_on_admin_page(hub, session, timezone):
    page = hub.url + f"/admin/locations/{hub.location}"
    answer = session.post(page, timeout=120, allow_redirects=False, data={
        "csrf_token": _csrf(session.get(page, timeout=30)), "name": "AMS",
        "timezone": timezone, "hours": "", "group": "", "window_min": "15",
        "min_presses": "4", "share_pct": "50", "silent_after_min": "15"})
    assert answer.status_code == 302, answer.text[:500]
    saved = session.get(hub.url + answer.headers["Location"], timeout=30).text
    assert f"counted in the hours of {timezone} now" in saved, saved[-2000:]


def _hours_in_other_zones(hub, timezone):
    """The hourly API's rows (the whole history) whose label is not the new zone's."""
    today = datetime.now(UTC).date()
    answer = requests.get(
        f"{hub.url}/api/v1/locations/{hub.location}/hourly", timeout=60,
        headers={"Authorization": f"Bearer {hub.api_token}"},
        params={"from": (today - timedelta(days=HISTORY_DAYS + 1)).isoformat(),
                "to": (today + timedelta(days=1)).isoformat(), "include_misuse": 1})
    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    assert body["timezone"] == timezone and body["hours"]
    zone = ZoneInfo(timezone)
    return [row["hour_start"] for row in body["hours"]
            if (start := datetime.fromisoformat(row["hour_start"])).utcoffset()
            != start.astimezone(zone).utcoffset()]


def _sync_errors(kiosk):
    """The kiosk's logged sync failures other than a retried 503."""
    return [line for line in kiosk.log.read_text().splitlines()
            if "sync: " in line and ("next try" in line or "parked" in line
                                     or "refused" in line) and "HTTP 503" not in line]


def test_zone_changes_while_kiosks_sync(hub, tmp_path):
    history = scale(20_000, 1_000_000)
    _seed_history(hub, history)
    hub.start()
    session = _admin_session(hub)
    kiosks = [KioskProcess(tmp_path, f"kiosk-{n}", hub.url, hub.add_device(f"kiosk-{n}"),
                           sync_interval_s=0.3) for n in (1, 2)]
    rounds = scale(4, 20)
    rand = random.Random(12)
    took = []
    started = time.monotonic()
    try:
        for kiosk in kiosks:
            kiosk.start(rate=STORM)
        for n in range(rounds):
            count = rows(hub.db, "SELECT count(*) FROM presses")[0][0]
            wait_until(lambda count=count: rows(hub.db, "SELECT count(*) FROM presses")[0][0]
                       > count + 20, timeout=60, message="the kiosks' presses arriving")
            timezone = ZONES[n % len(ZONES)]
            began = time.monotonic()
            if n % 2 == 0:
                out = hub.cli("location", "edit", hub.location, "--timezone", timezone)
                assert f"edited location {hub.location} ({timezone}): recounted" in out
            else:
                _change_on_admin_page(hub, session, timezone)
            took.append(time.monotonic() - began)
            # At once, while the kiosks go on: every hour is one of the new zone's.
            assert _hours_in_other_zones(hub, timezone) == [], f"round {n}: {timezone}"
            time.sleep(rand.uniform(0, 0.5))  # the next change lands at a random point
    finally:
        for kiosk in kiosks:
            kiosk.stop()
    errors = [line for kiosk in kiosks for line in _sync_errors(kiosk)]
    assert errors == [], errors[:10]
    log = hub.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    busy = log.count("database error on POST /api/v1/presses")  # answered 503, retried
    figures = check_invariant(hub, kiosks, tmp_path)
    assert rows(hub.db, "SELECT count(*) FROM presses WHERE device_id = 'history'") == [
        (history,)]
    record("hub", f"time zone changed while kiosks sync ({history:,} presses of history)",
           faults=rounds, server_errors=busy, seconds=round(time.monotonic() - started, 1),
           **figures, note=f"{rounds} changes (CLI and admin page), each {min(took):.1f}-"
                           f"{max(took):.1f} s; {busy} batches answered 503 and retried")
