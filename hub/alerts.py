"""The alert rules, evaluated by `hub alerts run` (a systemd timer runs it every minute).

- negative feedback (hub.negative_feedback): the last `window_s` at a location is worse than
  its usual (preset "usual", the default) or at least `share_pct` % negative (preset
  "simple"). Its life: open -> acknowledged (by a person) -> resolved, automatically, once
  the rule's window has stayed below its threshold for QUIET_S of opening hours after the
  acknowledgement. One unresolved alert per location; if the rule fires again after that,
  counting only presses placed after the resolution, it is a new alert.
- silent device: a device (not revoked) not heard from (heartbeat or batch) for
  `silent_after_s`, while its location is open now and was open `silent_after_s` ago (no
  alert at opening time for a kiosk that was off overnight). Cleared when it is heard again.

`now` is always passed in, so tests drive the rules with their own clock.
"""

import json
from datetime import timedelta

from hub import negative_feedback as rule
from hub import webhooks
from hub.hours import open_at, open_seconds
from hub.store import alerts as alert_store
from hub.store import registry
from hub.times import format_utc, parse_timestamp, seconds_between, zone

QUIET_S = 30 * 60  # calm this long (opening hours) after acknowledgement: resolved
RULE = "negative_feedback"


def evaluate(db, now):
    """Apply both rules to every location at *now*; return the events [(event, alert_id)]."""
    thresholds = alert_store.settings(db)
    events = []
    with db.atomic():  # one evaluator at a time: the write lock is taken at the start
        events += negative_feedback(db, now, thresholds)
        events += _silent_devices(db, thresholds, now)
        for event, alert_id in events:
            webhooks.enqueue(db, event, alert_id, now)
    return events


def negative_feedback(db, now, thresholds=None):
    """The negative-feedback rule at every location at *now* (inside a transaction): raise,
    follow and resolve its alerts; return the events [(event, alert_id)]."""
    thresholds = thresholds or alert_store.settings(db)
    events = []
    for place in registry.locations(db):
        events += _negative_feedback(db, place, thresholds[place["id"]], now)
    return events


def _negative_feedback(db, place, limits, now):
    current = alert_store.unresolved(db, place["id"], RULE)
    if current is None:
        resolved = alert_store.last_resolved(db, place["id"], RULE)
        found = rule.judge(db, place, limits, now, parse_timestamp(resolved))
        if not found.firing:
            return []
        alert_id = alert_store.raise_alert(db, place["id"], RULE, "", format_utc(now),
                                           json.dumps(found.detail(limits["window_s"])))
        return [] if alert_id is None else [("alert.raised", alert_id)]
    if current["acknowledged_at"] is None:
        return []  # open: it waits for a person, however calm it is now
    if rule.judge(db, place, limits, now).firing:
        if current["calm_since"] is not None:
            alert_store.set_calm_since(db, current["id"], None)
        return []
    calm_since = current["calm_since"]
    if calm_since is None:
        alert_store.set_calm_since(db, current["id"], format_utc(now))
        calm_since = format_utc(now)
    quiet = open_seconds(place["opening_hours"], zone(place["timezone"]),
                         parse_timestamp(calm_since), now)
    if quiet >= QUIET_S and alert_store.resolve(db, current["id"], format_utc(now)):
        return [("alert.resolved", current["id"])]
    return []


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


# An alert's life in seconds, for /metrics: opened -> acknowledged, opened -> resolved.
LIFE_BUCKETS_S = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800)


def life_seconds(db):
    """{"acknowledge": {rule: [seconds, ...]}, "resolve": {"negative_feedback": [...]}}:
    how long each alert took to be acknowledged and (negative feedback) resolved."""
    found = {"acknowledge": {"negative_feedback": [], "silent_device": []},
             "resolve": {RULE: []}}
    for row in alert_store.lifecycle_times(db):
        found["acknowledge"][row["rule"]].append(
            seconds_between(row["opened_at"], row["acknowledged_at"]))
        if row["resolved_at"] and row["rule"] == RULE:
            found["resolve"][RULE].append(seconds_between(row["opened_at"], row["resolved_at"]))
    return found
