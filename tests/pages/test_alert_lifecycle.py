"""A negative-feedback alert's whole life: open -> acknowledged -> resolved after a quiet
time of opening hours; a relapse is a new alert; the alerts page, its CSV, /metrics and the
webhooks say so."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from hub import alerts, reports
from hub.store import Database, registry
from hub.store import alerts as alert_store
from hub.store import webhooks as webhook_store
from hub.store.schema import ALERT_LIFECYCLE, MIGRATIONS
from hub.times import format_utc
from tests.pages.conftest import csrf_token, post_form
from tests.pages.test_alert_rule import Kiosk, use

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Amsterdam
MINUTE = timedelta(minutes=1)
WEEK = 7 * 24 * 3600


@pytest.fixture
def kiosk(db, site, client, clock):
    """A location on the simple preset (the window's arithmetic is plain to see) with a
    kiosk (not silent for a week: only negative feedback here); its first alert (3 of 4
    negative, 5 minutes ago) raised at NOW."""
    clock.now = NOW
    site.location("ams")
    use(db, "ams", "simple", silent_after_s=WEEK)
    kiosk = Kiosk(client, site.device("kiosk-1", "ams"))
    kiosk.burst((1, 2, 1, 3))
    assert alerts.evaluate(db, NOW) == [("alert.raised", 1)]
    return kiosk


def minutes(db, first, last):
    """Run the rules every minute from NOW + *first* to NOW + *last* minutes, as the timer;
    {minute: events} of the minutes that had any."""
    found = {}
    for minute in range(first, last + 1):
        events = alerts.evaluate(db, NOW + minute * MINUTE)
        if events:
            found[minute] = events
    return found


def state(db, alert_id):
    return reports.alert_entry(alert_store.alert(db, alert_id))["state"]


def test_acknowledged_then_resolved_after_the_quiet_time(db, kiosk):
    assert minutes(db, 1, 60) == {}  # open: waits for a person, however calm it becomes
    assert state(db, 1) == "open"
    assert alerts.acknowledge(db, 1, "ann", "sent a second agent", NOW + 61 * MINUTE)
    found = minutes(db, 61, 120)
    # The window has been calm since long before: the quiet time counts from the first run
    # after the acknowledgement (+61), and the alert resolves QUIET_S later.
    assert found == {61 + alerts.QUIET_S // 60: [("alert.resolved", 1)]}
    assert state(db, 1) == "resolved"


def test_negative_presses_during_the_quiet_time_start_it_again(db, kiosk, clock):
    assert alerts.acknowledge(db, 1, "ann", "", NOW + 2 * MINUTE)
    # At +5 the window still holds the presses of the alert: not calm yet.
    assert minutes(db, 3, 9) == {}
    assert alert_store.alert(db, 1)["calm_since"] is None
    assert minutes(db, 10, 20) == {}  # calm from +10 (the presses left the window)
    assert alert_store.alert(db, 1)["calm_since"] == format_utc(NOW + 10 * MINUTE)
    # Bad again at +21, while acknowledged: no second alert, and the quiet time restarts.
    clock.now = NOW + 21 * MINUTE
    kiosk.burst((2, 2, 1, 1), minutes_ago=0.5, now=clock.now)
    assert minutes(db, 21, 21) == {}
    assert alert_store.alert(db, 1)["calm_since"] is None
    assert [a["id"] for a in alert_store.alerts(db, open_only=False)] == [1]
    found = minutes(db, 22, 80)
    calm = 21 + 15  # the new presses (at +20:30) leave the 15-min window at +35:30
    assert found == {calm + alerts.QUIET_S // 60: [("alert.resolved", 1)]}


def test_a_relapse_after_resolution_is_a_new_alert(db, kiosk, clock):
    # Deliveries are only queued here, not sent.
    webhook_store.add(db, "https://hooks.example.org/alerts", None, "s3cret", format_utc(NOW))
    assert alerts.acknowledge(db, 1, "ann", "", NOW + MINUTE)
    assert list(minutes(db, 2, 60).values()) == [[("alert.resolved", 1)]]
    # The presses of the first alert are not counted again; new ones are a new alert.
    clock.now = later = NOW + 70 * MINUTE
    kiosk.burst((1, 1, 2, 4), minutes_ago=2, now=later)
    assert alerts.evaluate(db, later) == [("alert.raised", 2)]
    assert (state(db, 1), state(db, 2)) == ("resolved", "open")
    bodies = [json.loads(row[0]) for row in db.rows("SELECT body FROM webhook_deliveries")]
    assert sorted((b["event"], b["alert"]["id"]) for b in bodies) == [  # hooked after NOW
        ("alert.acknowledged", 1), ("alert.raised", 2), ("alert.resolved", 1)]
    resolved = [b for b in bodies if b["event"] == "alert.resolved"]
    assert resolved[0]["alert"]["state"] == "resolved"
    # Calm from +10 (the presses left the window), resolved 30 minutes of calm later.
    assert resolved[0]["alert"]["time_to_resolve"] == "40 minutes"


def test_the_quiet_time_counts_only_opening_hours(db, site, client, clock):
    # Open weekdays 09:00-17:00 in Amsterdam (08:00-16:00 UTC in November).
    site.location("ams")
    use(db, "ams", "simple", silent_after_s=WEEK)
    registry.update_location(db, "ams", "AMS", "Europe/Amsterdam", "mon-fri 09:00-17:00", None)
    friday = datetime(2026, 11, 27, 15, 50, tzinfo=UTC)  # 16:50 local, 10 min before closing
    clock.now = friday
    kiosk = Kiosk(client, site.device("kiosk-1", "ams"))
    kiosk.burst((1, 1, 2, 2), minutes_ago=2, now=friday)
    assert alerts.evaluate(db, friday) == [("alert.raised", 1)]
    assert alerts.acknowledge(db, 1, "ann", "", friday + MINUTE)
    assert alerts.evaluate(db, friday + 2 * MINUTE) == []  # still in the window
    calm = friday + 20 * MINUTE  # 17:10, closed: calm, but closed time does not count
    assert alerts.evaluate(db, calm) == []
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 local, open again
    assert alerts.evaluate(db, monday + 29 * MINUTE) == []
    assert alerts.evaluate(db, monday + 30 * MINUTE) == [("alert.resolved", 1)]


def test_a_silent_device_alert_still_clears_and_does_not_resolve(db, site, client, clock):
    clock.now = NOW
    site.location("ams")
    site.device("kiosk-1", "ams")
    events = alerts.evaluate(db, NOW + 16 * MINUTE)
    assert events == [("alert.raised", 1)]
    assert alerts.acknowledge(db, 1, "ann", "", NOW + 17 * MINUTE)
    assert state(db, 1) == "acknowledged"
    assert alerts.life_seconds(db)["resolve"] == {"negative_feedback": []}


def test_the_alerts_page_and_csv_show_how_long_each_step_took(admin, db, kiosk, clock):
    clock.now = NOW + 12 * MINUTE
    post_form(admin, "/alerts", "/alerts/1/acknowledge", {"comment": "on it"})
    minutes(db, 13, 60)
    page = admin.get("/alerts?show=all").get_data(as_text=True)
    assert "acknowledged after 12 minutes" in page
    assert "resolved after 43 minutes" in page  # calm from +13, 30 minutes quiet
    rows = list(csv.DictReader(io.StringIO(
        admin.get("/alerts?show=all&format=csv").get_data(as_text=True))))
    assert [(r["state"], r["time_to_acknowledge"], r["time_to_resolve"],
             r["time_to_acknowledge_s"], r["time_to_resolve_s"]) for r in rows] == [
        ("resolved", "12 minutes", "43 minutes", "720", "2580")]
    assert rows[0]["resolved_at"] == "2026-11-23T11:43:00+01:00"
    assert "resolved after" not in admin.get("/alerts").get_data(as_text=True)  # open only


def test_metrics_has_the_times_as_histograms(client, db, kiosk):
    assert alerts.acknowledge(db, 1, "ann", "", NOW + 4 * MINUTE)
    minutes(db, 5, 60)
    lines = client.get("/metrics").get_data(as_text=True).splitlines()
    assert "# TYPE hub_alert_seconds_to_acknowledge histogram" in lines
    assert "# TYPE hub_alert_seconds_to_resolve histogram" in lines
    ack = {line.split()[0]: float(line.split()[1]) for line in lines
           if line.startswith("hub_alert_seconds_to_acknowledge") and "negative" in line}
    assert ack['hub_alert_seconds_to_acknowledge_bucket{rule="negative_feedback",le="60"}'] == 0
    assert ack['hub_alert_seconds_to_acknowledge_bucket{rule="negative_feedback",le="300"}'] == 1
    assert ack['hub_alert_seconds_to_acknowledge_bucket{rule="negative_feedback",le="+Inf"}'] == 1
    assert ack['hub_alert_seconds_to_acknowledge_sum{rule="negative_feedback"}'] == 240
    assert ack['hub_alert_seconds_to_acknowledge_count{rule="negative_feedback"}'] == 1
    resolve = {line.split()[0]: float(line.split()[1]) for line in lines
               if line.startswith("hub_alert_seconds_to_resolve")}
    assert resolve['hub_alert_seconds_to_resolve_bucket{rule="negative_feedback",le="1800"}'] == 0
    assert resolve['hub_alert_seconds_to_resolve_bucket{rule="negative_feedback",le="3600"}'] == 1
    assert resolve['hub_alert_seconds_to_resolve_count{rule="negative_feedback"}'] == 1


def test_the_admin_switches_a_location_between_the_presets(admin, db, site):
    site.location("ams")
    page = admin.get("/admin/locations/ams").get_data(as_text=True)
    assert 'value="usual" checked' in page and 'value="simple" >' in page
    form = {"name": "AMS", "timezone": "Europe/Amsterdam", "hours": "", "group": "",
            "window_min": "15", "min_presses": "4", "share_pct": "50",
            "silent_after_min": "15", "rule": "simple"}
    assert admin.post("/admin/locations/ams", data=form).status_code == 400  # no CSRF token
    assert alert_store.settings(db)[1]["rule"] == "usual"
    assert post_form(admin, "/admin/locations/ams", "/admin/locations/ams",
                     form).status_code == 302
    assert alert_store.settings(db)[1]["rule"] == "simple"
    assert 'value="simple" checked' in admin.get("/admin/locations/ams").get_data(as_text=True)
    listing = admin.get("/admin/locations").get_data(as_text=True)
    assert "simple: ≥ 4 presses, ≥ 50 % negative in 15 min" in listing
    refused = post_form(admin, "/admin/locations/ams", "/admin/locations/ams",
                        {**form, "rule": "loudest"})
    assert refused.status_code == 302
    assert "rule: expected one of usual, simple" in admin.get("/admin/locations").get_data(
        as_text=True)
    assert alert_store.settings(db)[1]["rule"] == "simple"
    post_form(admin, "/admin/locations/ams", "/admin/locations/ams", {**form, "rule": "usual"})
    assert alert_store.settings(db)[1]["rule"] == "usual"


def test_a_viewer_cannot_switch_the_preset(viewer, db, site):
    site.location("ams")
    token = csrf_token(viewer.get("/alerts"))
    response = viewer.post("/admin/locations/ams", data={"rule": "simple", "csrf_token": token})
    assert response.status_code == 403
    assert alert_store.settings(db)[1]["rule"] == "usual"


def test_migration_8_resolves_the_alerts_acknowledgement_closed(tmp_path, monkeypatch):
    """A hub of schema 7 where acknowledging closed an alert: its acknowledged alerts are
    resolved at their acknowledgement, its open one stays open and still counts as the
    one unresolved alert of its location."""
    from hub.store import database

    path = tmp_path / "old.db"
    lifecycle = next(i for i, (_, steps) in enumerate(MIGRATIONS) if steps is ALERT_LIFECYCLE)
    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS[:lifecycle])
    old = Database(path)
    old.migrate("2026-01-01T00:00:00.000Z")
    assert old.schema_version() == lifecycle
    registry.add_location(old, "ams", "AMS", "Europe/Amsterdam", None, "2026-01-01T00:00:00Z")
    for opened, acknowledged in (("2026-11-01T08:00:00.000Z", "2026-11-01T08:10:00.000Z"),
                                 ("2026-11-02T08:00:00.000Z", "2026-11-02T09:00:00.000Z"),
                                 ("2026-11-03T08:00:00.000Z", None)):
        old.execute("INSERT INTO alerts (location_id, rule, opened_at, detail, acknowledged_at)"
                    " VALUES (1, 'negative_feedback', ?, '{}', ?)", (opened, acknowledged))
    old.close()
    monkeypatch.undo()
    db = Database(path)
    db.migrate("2026-11-04T00:00:00.000Z")
    rows = db.rows("SELECT id, acknowledged_at, resolved_at FROM alerts ORDER BY id")
    assert [(r["id"], r["resolved_at"]) for r in rows] == [
        (1, "2026-11-01T08:10:00.000Z"), (2, "2026-11-02T09:00:00.000Z"), (3, None)]
    assert alert_store.raise_alert(db, 1, "negative_feedback", "", "2026-11-04T00:00:00.000Z",
                                   "{}") is None  # alert 3 is still the open one
    assert alert_store.settings(db)[1]["rule"] == "usual"
    db.close()


@pytest.mark.parametrize(("seconds", "words"), [
    (0, "under a minute"), (59, "under a minute"), (60, "1 minute"), (720, "12 minutes"),
    (3600, "1 hour"), (4800, "1 hour 20 minutes"), (86400 + 3 * 3600 + 300, "1 day 3 hours"),
    (2 * 86400 + 300, "2 days"), (None, None)])
def test_durations_read_as_words(seconds, words):
    from hub.times import duration_words

    assert duration_words(seconds) == words
