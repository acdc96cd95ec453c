"""The alert rules with a controllable clock, and webhooks delivered to a local server."""

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub import alerts, reports, webhooks
from hub.store import alerts as alert_store
from hub.store import registry
from hub.store import webhooks as webhook_store
from hub.times import format_utc
from tests.hub.helpers import press, send
from tests.pages.conftest import post_form

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Amsterdam


def negative_presses(client, kiosk, first_seq, minutes_ago, moods=(1, 2, 1, 3), now=NOW):
    presses = [press(first_seq + i, mood=mood,
                     pressed_at=format_utc(now - timedelta(minutes=minutes_ago, seconds=i)))
               for i, mood in enumerate(moods)]
    assert send(client, kiosk, presses).status_code == 200


def open_alerts(db, rule):
    return [a for a in alert_store.alerts(db, open_only=True) if a["rule"] == rule]


@pytest.fixture
def ams(db, site, client, clock):
    """A location on the simple preset (3 of 4 negative is an alert there: these tests are
    about raising, webhooks and pages; the usual rule: test_alert_rule.py) and its kiosk."""
    clock.now = NOW
    site.location("ams")
    location_id = registry.location(db, "ams")["id"]
    alert_store.save_settings(db, location_id, {**alert_store.DEFAULTS, "rule": "simple"})
    return site.device("kiosk-1", "ams")


def test_negative_feedback_is_raised_once_until_it_is_resolved(db, client, ams, clock):
    negative_presses(client, ams, 1, minutes_ago=5)  # 3 of 4 negative
    assert alerts.evaluate(db, NOW) == [("alert.raised", 1)]
    [raised] = open_alerts(db, "negative_feedback")
    assert json.loads(raised["detail"])["negative"] == 3
    # Still true a minute later: the open alert stays the only one.
    assert alerts.evaluate(db, NOW + timedelta(minutes=1)) == []
    assert alerts.acknowledge(db, raised["id"], "ann", "spoke to the team", NOW)
    assert not alerts.acknowledge(db, raised["id"], "ann", "", NOW)
    # Acknowledged is not resolved: new negative presses open no second alert (its life
    # until resolved, and the new alert after it: test_alert_lifecycle.py).
    clock.now = later = NOW + timedelta(minutes=8)
    negative_presses(client, ams, 10, minutes_ago=1, now=later)
    assert alerts.evaluate(db, later) == []
    assert open_alerts(db, "negative_feedback") == []
    assert [a["id"] for a in alert_store.alerts(db, open_only=False)] == [1]


def test_negative_feedback_needs_enough_presses_and_share(db, client, ams):
    negative_presses(client, ams, 1, minutes_ago=5, moods=(1, 2, 1))  # only 3 presses
    negative_presses(client, ams, 4, minutes_ago=30, moods=(1, 1, 1, 1))  # outside the window
    assert alerts.evaluate(db, NOW) == []
    negative_presses(client, ams, 10, minutes_ago=4, moods=(4, 4, 3))  # 3 of 6: exactly 50 %
    assert alerts.evaluate(db, NOW) == [("alert.raised", 1)]


def test_thresholds_are_per_location(db, client, ams):
    location_id = registry.location(db, "ams")["id"]
    alert_store.save_settings(db, location_id, {"window_s": 3600, "min_presses": 10,
                                                "share_pct": 50, "silent_after_s": 900})
    negative_presses(client, ams, 1, minutes_ago=5)
    assert alerts.evaluate(db, NOW) == []


def test_silent_device_raised_and_cleared_with_the_clock(db, client, ams, clock):
    beat = {"device_id": "kiosk-1", "boot_id": "b", "uptime_ms": 1,
            "sent_at": format_utc(NOW), "version": "1.0"}
    assert client.post("/api/v1/heartbeat", json=beat, headers=ams).status_code == 200
    assert alerts.evaluate(db, NOW + timedelta(minutes=14)) == []
    events = alerts.evaluate(db, NOW + timedelta(minutes=16))
    assert events == [("alert.raised", 1)]
    [alert] = open_alerts(db, "silent_device")
    assert alert["device_id"] == "kiosk-1"
    # Shown in the location's own time, like every time on the pages (NOW is 11:00 there).
    entry = reports.alert_entry(alert)
    assert entry["last_seen_at"] == "2026-11-23T11:00:00+01:00"
    assert alerts.evaluate(db, NOW + timedelta(minutes=17)) == []  # one at a time
    clock.now = NOW + timedelta(minutes=20)  # the hub hears from it again
    assert client.post("/api/v1/heartbeat", json=beat, headers=ams).status_code == 200
    assert alerts.evaluate(db, NOW + timedelta(minutes=21)) == [("alert.cleared", 1)]
    assert open_alerts(db, "silent_device") == []


def test_silent_devices_only_count_within_opening_hours(db, site, client):
    registry.add_location(db, "lon", "London", "Europe/London", "mon-fri 09:00-17:00",
                          "2026-01-01T00:00:00.000Z")
    site.device("kiosk-2", "lon")
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert alerts.evaluate(db, saturday) == []
    monday_opening = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)  # open for 5 minutes only
    assert alerts.evaluate(db, monday_opening) == []
    assert alerts.evaluate(db, monday_opening + timedelta(minutes=11)) == [("alert.raised", 1)]
    # The overview lists the silent device either way, and says when no alert is due.
    thresholds = alert_store.settings(db)
    [closed] = reports.silent_devices(db, saturday, thresholds)
    assert (closed["device_id"], closed["open_now"]) == ("kiosk-2", False)
    [open_] = reports.silent_devices(db, monday_opening, thresholds)
    assert open_["open_now"] is True


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver on 127.0.0.1 answering with the statuses it is given, in turn."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        status = self.server.statuses.pop(0) if self.server.statuses else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_webhook_is_signed_and_retried_with_backoff(db, client, ams, receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    secret = webhooks.new_secret()
    webhook_store.add(db, url, None, secret, format_utc(NOW))
    receiver.statuses = [500]
    negative_presses(client, ams, 1, minutes_ago=5)
    alerts.evaluate(db, NOW)
    assert webhooks.deliver_due(db, NOW) == (0, 1)
    [delivery] = webhook_store.deliveries(db)
    assert (delivery["status"], delivery["attempts"], delivery["last_result"]) == (
        "pending", 1, "HTTP 500")
    # Not due again before the backoff has passed, then delivered.
    assert webhooks.deliver_due(db, NOW + timedelta(seconds=30)) == (0, 0)
    assert webhooks.deliver_due(db, NOW + timedelta(minutes=1)) == (1, 0)
    assert webhook_store.deliveries(db)[0]["status"] == "delivered"

    headers, body = receiver.received[-1]
    assert webhooks.verify(secret, body, headers["X-Hub-Signature-256"])
    assert not webhooks.verify("another secret", body, headers["X-Hub-Signature-256"])
    assert not webhooks.verify(secret, body + b" ", headers["X-Hub-Signature-256"])
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == "sha256=" + expected
    payload = json.loads(body)
    assert payload["event"] == "alert.raised"
    assert payload["alert"]["rule"] == "negative_feedback"
    assert payload["alert"]["location"] == "ams"
    assert len(receiver.received) == 2


def test_webhook_gives_up_after_max_attempts(db, client, ams):
    webhook_store.add(db, "http://127.0.0.1:9/closed", None, "s", format_utc(NOW))
    negative_presses(client, ams, 1, minutes_ago=5)
    alerts.evaluate(db, NOW)
    when = NOW
    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        assert webhooks.deliver_due(db, when) == (0, 1)
        when += webhooks.backoff(attempt)
    [delivery] = webhook_store.deliveries(db)
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == webhooks.MAX_ATTEMPTS
    assert webhooks.deliver_due(db, when + timedelta(days=1)) == (0, 0)


def test_a_deleted_webhook_gets_no_more_tries(db, client, ams, receiver):
    url = f"http://127.0.0.1:{receiver.server_port}/hook"
    webhook_id = webhook_store.add(db, url, None, webhooks.new_secret(), format_utc(NOW))
    receiver.statuses = [500]
    negative_presses(client, ams, 1, minutes_ago=5)
    alerts.evaluate(db, NOW)
    assert webhooks.deliver_due(db, NOW) == (0, 1)
    webhook_store.delete(db, webhook_id, format_utc(NOW))
    assert webhooks.deliver_due(db, NOW + timedelta(days=1)) == (0, 0)
    assert len(receiver.received) == 1


def test_location_webhooks_hear_only_their_location(db, site, client, ams):
    site.location("lon", "Europe/London")
    location_id = registry.location(db, "lon")["id"]
    webhook_store.add(db, "http://127.0.0.1:9/lon", location_id, "s", format_utc(NOW))
    negative_presses(client, ams, 1, minutes_ago=5)
    alerts.evaluate(db, NOW)
    assert webhook_store.deliveries(db) == []


def test_acknowledge_and_comment_from_the_alerts_page(admin, db, client, ams):
    negative_presses(client, ams, 1, minutes_ago=5)
    alerts.evaluate(db, NOW)
    page = admin.get("/alerts").get_data(as_text=True)
    assert "Negative feedback" in page and "Acknowledge" in page
    assert admin.post("/alerts/1/acknowledge", data={"comment": "x"}).status_code == 400
    response = post_form(admin, "/alerts", "/alerts/1/acknowledge",
                         {"comment": "<b>cleaned the floor</b>", "next": "https://evil.example"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    [alert] = [dict(a) for a in alert_store.alerts(db, open_only=False)]
    assert (alert["acknowledged_by"], alert["comment"]) == ("ada", "<b>cleaned the floor</b>")
    page = admin.get("/alerts?show=all").get_data(as_text=True)
    assert "&lt;b&gt;cleaned the floor&lt;/b&gt;" in page
    csv = admin.get("/alerts?show=all&format=csv").get_data(as_text=True)
    assert csv.splitlines()[1].startswith("1,negative_feedback,ams,,acknowledged,")
    assert post_form(admin, "/alerts", "/alerts/99/acknowledge", {}).status_code == 404


def test_hub_alerts_run_command(hub_cli, client, ams):
    result = hub_cli("alerts", "run")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("alerts: ")
