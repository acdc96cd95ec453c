"""The demo database: what a newcomer sees first must look like a real site."""

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from hub import demo
from hub.store import Database

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "hub.db"
    state = demo.seed(path, days=14, now=NOW, rng=random.Random(7))
    db = Database(path)
    yield db, state
    db.close()


def test_three_locations_in_three_time_zones(seeded):
    db, _ = seeded
    zones = {row[0]: row[1] for row in db.rows("SELECT slug, timezone FROM locations")}
    assert zones == {"ams-security": "Europe/Amsterdam", "blr-library": "Asia/Kolkata",
                     "yyt-clinic": "America/St_Johns"}


def test_every_location_has_history_and_rollups_match_it(seeded):
    db, _ = seeded
    for slug in ("ams-security", "blr-library", "yyt-clinic"):
        raw = db.row("SELECT count(*) FROM presses p JOIN locations l ON l.id = p.location_id"
                     " WHERE l.slug = ? AND NOT p.misuse", (slug,))[0]
        rolled = db.row("SELECT sum(n1 + n2 + n3 + n4) FROM rollups r JOIN locations l"
                        " ON l.id = r.location_id WHERE l.slug = ?", (slug,))[0]
        assert raw > 100
        assert rolled == raw


def test_some_presses_are_misuse_but_few(seeded):
    db, _ = seeded
    total, misuse = db.row("SELECT count(*), sum(misuse) FROM presses")
    assert 0 < misuse < total * 0.05


def test_one_device_went_silent_three_hours_ago(seeded):
    db, _ = seeded
    seen = {row[0]: row[1] for row in db.rows("SELECT device_id, last_seen_at FROM device_state")}
    silent = datetime.fromisoformat(seen.pop(demo.SILENT_DEVICE))
    assert NOW - silent == demo.SILENT_FOR
    assert all(NOW - datetime.fromisoformat(s) < timedelta(minutes=1) for s in seen.values())
    last_press = db.row("SELECT max(pressed_at) FROM presses WHERE device_id = ?",
                        (demo.SILENT_DEVICE,))[0]
    assert datetime.fromisoformat(last_press) <= silent


def test_this_mornings_queue_made_the_airport_unhappy(seeded):
    db, _ = seeded
    # 07:00-10:00 in Amsterdam on 2026-11-23 is 06:00-09:00 UTC.
    negative, total = db.row(
        "SELECT sum(mood <= 2), count(*) FROM presses p JOIN locations l ON l.id = p.location_id"
        " WHERE l.slug = 'ams-security' AND NOT misuse"
        " AND pressed_at >= '2026-11-23T06:00' AND pressed_at < '2026-11-23T09:00'")
    usual_negative, usual_total = db.row(
        "SELECT sum(mood <= 2), count(*) FROM presses p JOIN locations l ON l.id = p.location_id"
        " WHERE l.slug = 'ams-security' AND NOT misuse AND pressed_at < '2026-11-23'")
    assert total > 50
    assert negative / total > 0.6
    assert usual_negative / usual_total < 0.3


def test_the_bad_morning_left_an_open_alert(seeded):
    db, _ = seeded
    rows = db.rows("SELECT l.slug, a.rule, a.acknowledged_at, a.detail FROM alerts a"
                   " JOIN locations l ON l.id = a.location_id WHERE a.rule = 'negative_feedback'")
    assert [(r[0], r[2]) for r in rows] == [("ams-security", None)]
    # Raised by the default rule: far worse than what is usual there at that hour.
    detail = json.loads(rows[0][3])
    assert detail["rule"] == "usual"
    assert detail["share_pct"] > detail["threshold_pct"] > detail["usual_pct"]


def test_nothing_is_pressed_in_the_future(seeded):
    db, _ = seeded
    assert db.row("SELECT max(pressed_at) FROM presses")[0] < "2026-11-23T10:30"


def test_live_kiosks_get_tokens_and_the_demo_user_can_log_in(seeded):
    db, state = seeded
    assert set(state["live_devices"]) == {"ams-security-live", "blr-library-live",
                                          "yyt-clinic-live"}
    from hub.store import registry

    assert registry.check_user_password(db, demo.DEMO_USER, state["password"]) is not None
    assert registry.bearer(db, state["api_token"]) is not None


def _by_local(db, slug, part):
    """Presses (not misuse) per local hour (part "hour") or weekday (part "weekday", 0 = Mon)
    of *slug*, from the rollups' local hour starts."""
    counts = {}
    for local, n in db.rows(
            "SELECT r.hour_start_local, n1 + n2 + n3 + n4 FROM rollups r"
            " JOIN locations l ON l.id = r.location_id WHERE l.slug = ?", (slug,)):
        start = datetime.fromisoformat(local)
        key = start.hour if part == "hour" else start.weekday()
        counts[key] = counts.get(key, 0) + n
    return counts


def test_presses_follow_a_daily_rhythm_inside_opening_hours(seeded):
    db, _ = seeded
    airport = _by_local(db, "ams-security", "hour")
    assert set(airport) <= set(range(5, 23))  # open 05:00-23:00, local time
    assert airport[8] > 1.5 * airport[12] and airport[16] > 1.5 * airport[12]  # two peaks
    library = _by_local(db, "blr-library", "hour")
    assert min(library) >= 9 and max(library) < 20


def test_presses_follow_a_weekly_rhythm(seeded):
    db, _ = seeded
    clinic = _by_local(db, "yyt-clinic", "weekday")
    assert set(clinic) <= {0, 1, 2, 3, 4}  # closed at the weekend
    library = _by_local(db, "blr-library", "weekday")
    assert 6 not in library and library[5] > library[2]  # closed Sunday, busy Saturday


def test_the_silent_device_raises_an_alert_while_its_clinic_is_open(tmp_path):
    """At 10:30 in St John's (open Mon-Fri 07:30-18:00) the clinic's kiosk that stopped three
    hours ago is a silent-device alert, and only it."""
    from hub.store import alerts as alert_store

    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 10:30 in St John's
    path = tmp_path / "hub.db"
    demo.seed(path, days=2, now=now, rng=random.Random(3))
    db = Database(path)
    try:
        silent = [row["device_id"] for row in alert_store.alerts(db, open_only=True)
                  if row["rule"] == "silent_device"]
    finally:
        db.close()
    assert silent == [demo.SILENT_DEVICE]
