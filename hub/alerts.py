"""The alert rules, evaluated by `hub alerts run` (a systemd timer runs it every minute).

- negative feedback: in the last `window_s`, at least `min_presses` presses (misuse left out)
  and at least `share_pct` % of them negative (moods 1-2). One open alert per location until
  acknowledged; after an acknowledgement only presses placed after it count again.
- silent device: a device (not revoked) not heard from (heartbeat or batch) for
  `silent_after_s`, while its location is open now and was open `silent_after_s` ago (no
  alert at opening time for a kiosk that was off overnight). Cleared when it is heard again.

`now` is always passed in, so tests drive the rules with their own clock.
"""

import json
from datetime import timedelta

from hub import webhooks
from hub.hours import open_at
from hub.store import alerts as alert_store
from hub.store import registry
from hub.times import format_utc, parse_timestamp, zone


def evaluate(db, now):
    """Apply both rules to every location at *now*; return the events [(event, alert_id)]."""
    thresholds = alert_store.settings(db)
    events = []
    with db.atomic():  # one evaluator at a time: the write lock is taken at the start
        for place in registry.locations(db):
            events += _negative_feedback(db, place, thresholds[place["id"]], now)
        events += _silent_devices(db, thresholds, now)
        for event, alert_id in events:
            webhooks.enqueue(db, event, alert_id, now)
    return events


def _negative_feedback(db, place, limits, now):
    since = now - timedelta(seconds=limits["window_s"])
    acknowledged = alert_store.last_acknowledged(db, place["id"], "negative_feedback")
    start = max(format_utc(since), acknowledged or "")
    counts = alert_store.press_counts(db, place["id"], start, format_utc(now))
    total, negative = sum(counts), counts[0] + counts[1]
    if total < limits["min_presses"] or negative * 100 < limits["share_pct"] * total:
        return []
    detail = {"window_s": limits["window_s"], "presses": total, "negative": negative,
              "share_pct": round(100 * negative / total, 1),
              "counts": dict(zip(("very_unhappy", "unhappy", "happy", "very_happy"), counts,
                                 strict=True))}
    alert_id = alert_store.raise_alert(db, place["id"], "negative_feedback", "",
                                       format_utc(now), json.dumps(detail))
    return [] if alert_id is None else [("alert.raised", alert_id)]


def _silent_devices(db, thresholds, now):
    places = {row["id"]: row for row in registry.locations(db)}
    events = []
    devices = {row["device_id"]: row for row in alert_store.devices(db)}
    for alert in alert_store.open_silent_alerts(db):
        device = devices.get(alert["device_id"])
        # Heard from again (or revoked, or moved away): the alert clears itself.
        if (device is None or device["location_id"] != alert["location_id"]
                or (device["last_seen_at"] or "") >= alert["opened_at"]):
            alert_store.clear(db, alert["id"], format_utc(now))
            events.append(("alert.cleared", alert["id"]))
    for device in devices.values():
        place = places[device["location_id"]]
        silent_after = timedelta(seconds=thresholds[place["id"]]["silent_after_s"])
        last_seen = device["last_seen_at"] or device["created_at"]
        if parse_timestamp(last_seen) > now - silent_after:
            continue
        if not (_is_open(place, now) and _is_open(place, now - silent_after)):
            continue
        detail = {"last_seen_at": device["last_seen_at"],
                  "silent_after_s": int(silent_after.total_seconds())}
        alert_id = alert_store.raise_alert(db, place["id"], "silent_device",
                                           device["device_id"], format_utc(now),
                                           json.dumps(detail))
        if alert_id is not None:
            events.append(("alert.raised", alert_id))
    return events


def _is_open(place, instant):
    return open_at(place["opening_hours"], zone(place["timezone"]), instant)


def acknowledge(db, alert_id, username, comment, now):
    """Acknowledge an alert (webhooks hear of it); False if it was already acknowledged."""
    done = alert_store.acknowledge(db, alert_id, username, comment, format_utc(now))
    if done:
        with db.atomic():
            webhooks.enqueue(db, "alert.acknowledged", alert_id, now)
    return done
