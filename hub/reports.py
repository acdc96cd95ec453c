"""The data behind every view: plain dicts that JSON, CSV and HTML pages all render.

Dates here are local dates of the location; the UTC bounds come from zoneinfo.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, timedelta

from hub import stats
from hub.errors import invalid_field, not_found
from hub.hours import open_at
from hub.moods import MOOD_NAMES, happy_index, named_counts
from hub.store import alerts as alert_store
from hub.store import reads, registry
from hub.times import (
    duration_words,
    format_utc,
    hour_key,
    local_days,
    parse_timestamp,
    seconds_between,
    zone,
)

MAX_DAYS = 400
# Every table with a Happy Index ends with these (appended, so that a script reading the
# older columns by position keeps working).
INTERVAL_COLUMNS = ("n", "happy_index_low", "happy_index_high")
HOURLY_COLUMNS = ("hour_start", "very_unhappy", "unhappy", "happy", "very_happy", "total",
                  "happy_index", *INTERVAL_COLUMNS)


def summary(counts):
    """{counts, total, n, happy_index, happy_index_ci} for counts in mood order 1-4:
    happy_index_ci is [low, high] (95 %, hub.stats) or None when n < 2."""
    return {"counts": named_counts(counts), "total": sum(counts), "n": sum(counts),
            "happy_index": happy_index(counts), "happy_index_ci": _ci(counts)}


def _ci(counts):
    interval = stats.index_interval(counts)
    return None if interval is None else list(interval)


def interval_cells(entry):
    """The CSV cells n, happy_index_low, happy_index_high of a summary."""
    ci = entry["happy_index_ci"] or (None, None)
    return [entry["n"], ci[0], ci[1]]


def _location(db, slug):
    row = registry.location(db, slug)
    if row is None:
        raise not_found(f"no location {slug!r}")
    return row


def locations_today(db, now):
    """Every location with today's counts (today in the location's own zone)."""
    result = []
    for row in registry.locations(db):
        tz = zone(row["timezone"])
        today = now.astimezone(tz).date()
        start, end = local_days(today, today, tz)
        counts = reads.total_counts(db, row["id"], hour_key(start), hour_key(end))
        result.append({"slug": row["slug"], "name": row["name"], "timezone": row["timezone"],
                       "today": summary(counts)})
    return result


def _check_period(first, last):
    if last < first:
        raise invalid_field("to", f"a date on or after from ({first})", last.isoformat())
    if (last - first).days + 1 > MAX_DAYS:
        raise invalid_field("to", f"at most {MAX_DAYS} days after from", last.isoformat())


def ranking(db, first, last, group=None):
    """{"rows": [...]}: the locations (of *group*, if given) over local dates *first*..*last*
    of each, ranked by how sure we can be that visitors are happy: the Wilson lower bound
    of the positive share, highest first, so 5 happy presses of 5 (low 56.6 %) rank below
    4,000 of 5,000 (low 78.9 %). Ties go to more presses; locations without presses last."""
    _check_period(first, last)
    return {"rows": _ranked(db, group, lambda tz: (first, last))}


def ranking_recent(db, now, days, group=None, trends=None):
    """The ranking over the last *days* local dates up to each location's own today.
    *trends* ({slug: daily entries ending today}, the overview's) are summed where they
    cover the period, instead of reading the same rollups again."""

    def period(tz):
        today = now.astimezone(tz).date()
        return today - timedelta(days=days - 1), today

    def known(slug):
        trend = (trends or {}).get(slug)
        if trend is None or len(trend) < days:
            return None
        return tuple(sum(day["counts"][name] for day in trend[-days:]) for name in MOOD_NAMES)

    return {"rows": _ranked(db, group, period, known), "days": days}


def _ranked(db, group, period_of, known=lambda slug: None):
    rows = []
    for row in registry.locations(db):
        if group and row["location_group"] != group:
            continue
        counts = known(row["slug"])
        if counts is None:
            tz = zone(row["timezone"])
            start, end = local_days(*period_of(tz), tz)
            counts = reads.total_counts(db, row["id"], hour_key(start), hour_key(end))
        figures = stats.summarise(counts)
        rows.append({"location": row["slug"], "name": row["name"], "n": figures.n,
                     "positive_share": figures.positive_share,
                     "positive_share_low": figures.positive_share_low,
                     "happy_index": figures.happy_index,
                     "happy_index_ci": figures.as_dict()["happy_index_ci"]})
    rows.sort(key=lambda r: (r["n"] == 0, -(r["positive_share_low"] or 0), -r["n"],
                             r["location"]))
    return rows


RANKING_COLUMNS = ("rank", "location", "name", "n", "positive_share", "positive_share_low",
                   "happy_index", "happy_index_low", "happy_index_high")


def ranking_csv_rows(report):
    for rank, row in enumerate(report["rows"], 1):
        ci = row["happy_index_ci"] or (None, None)
        yield [rank if row["n"] else None, row["location"], row["name"], row["n"],
               row["positive_share"], row["positive_share_low"], row["happy_index"], *ci]


def hourly(db, slug, first, last, include_misuse=False, intervals=True):
    """One entry per local clock hour with presses, local dates *first*..*last* inclusive.
    *intervals* False leaves out happy_index_ci (a year is 8,760 of them, ~12 ms), for a
    caller that only sums the counts (the location page's heatmap)."""
    _check_period(first, last)
    location = _location(db, slug)
    start, end = local_days(first, last, zone(location["timezone"]))
    hours = reads.hourly_counts(db, location["id"], hour_key(start), hour_key(end),
                                include_misuse)
    rows = [
        {
            "hour_start": hour_start,
            "counts": {"very_unhappy": n1, "unhappy": n2, "happy": n3, "very_happy": n4},
            "total": n1 + n2 + n3 + n4,
            "n": n1 + n2 + n3 + n4,
            "happy_index": happy_index((n1, n2, n3, n4)),
        }
        for hour_start, n1, n2, n3, n4 in hours
    ]
    if intervals:
        for row, (_, *counts) in zip(rows, hours, strict=True):
            row["happy_index_ci"] = _ci(counts)
    return {"location": location["slug"], "timezone": location["timezone"], "hours": rows}


def hourly_csv_rows(report):
    for hour in report["hours"]:
        yield [hour["hour_start"], *hour["counts"].values(), hour["total"], hour["happy_index"],
               *interval_cells(hour)]


@dataclass(frozen=True)
class PressQuery:
    """Which raw presses: a location, local dates inclusive, optionally one device."""

    location_id: int
    start: str
    end: str
    device_id: str | None = None
    include_misuse: bool = False


def press_query(db, slug, first: date, last: date, device_id=None, include_misuse=False):
    if last < first:
        raise invalid_field("to", f"a date on or after from ({first})", last.isoformat())
    location = _location(db, slug)
    start, end = local_days(first, last, zone(location["timezone"]))
    return PressQuery(location["id"], format_utc(start), format_utc(end), device_id,
                      include_misuse)


def press_page(db, query, after=None, limit=1000):
    """{"presses": [...], "next": cursor or None} in placed-time order."""
    position = decode_cursor(after) if after else None
    rows = reads.presses(db, query.location_id, query.start, query.end, query.device_id,
                         query.include_misuse, position, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"presses": rows, "next": encode_cursor(rows[-1]) if more else None}


def all_presses(db, query, chunk=5000):
    """Every press of *query*, in order, read a chunk at a time (for CSV and exports)."""
    position = None
    while True:
        rows = reads.presses(db, query.location_id, query.start, query.end, query.device_id,
                             query.include_misuse, position, chunk)
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1]
        position = (last["pressed_at"], last["device_id"], last["seq"])


def press_csv_rows(rows):
    for row in rows:
        yield [row[column] for column in reads.PRESS_COLUMNS]


PRESS_COLUMNS = reads.PRESS_COLUMNS


def encode_cursor(row):
    """Opaque to clients: base64url of the last row's (pressed_at, device_id, seq)."""
    raw = json.dumps([row["pressed_at"], row["device_id"], row["seq"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, binascii.Error, RecursionError):
        position = None
    if (
        type(position) is list and len(position) == 3
        and type(position[0]) is str and type(position[1]) is str and type(position[2]) is int
        and -2**63 <= position[2] < 2**63  # SQLite's integers
    ):
        return tuple(position)
    raise invalid_field("after", "a cursor from a previous page's next", cursor)


# Pages: the overview, a location, alerts. Plain data again; HTML and CSV render it.

RULE_NAMES = {"negative_feedback": "Negative feedback", "silent_device": "Silent device"}
TREND_DAYS = 14


def local_time(text, tz):
    """A stored UTC timestamp as local ISO time with its offset, or None."""
    instant = parse_timestamp(text) if text else None
    return None if instant is None else instant.astimezone(tz).isoformat(timespec="seconds")


def daily(db, location_id, first, last, tz):
    """One entry per local date *first*..*last* (days without presses count zero)."""
    start, end = local_days(first, last, tz)
    found = {row[0]: row[1:] for row in reads.daily_counts(db, location_id, hour_key(start),
                                                            hour_key(end))}
    days = []
    day = first
    while day <= last:
        counts = found.get(day.isoformat(), (0, 0, 0, 0))
        days.append({"date": day.isoformat(), **summary(counts)})
        day += timedelta(days=1)
    return days


def overview(db, now, group=None):
    """Every location (of *group*, if given) with today, a 14-day trend, open alerts; the
    open alerts and the silent devices of the whole hub."""
    rows = registry.locations(db)
    thresholds = alert_store.settings(db)
    open_alerts = [alert_entry(row) for row in alert_store.alerts(db, open_only=True)]
    silent = silent_devices(db, now, thresholds)
    per_location = {}
    for entry in open_alerts:
        per_location[entry["location"]] = per_location.get(entry["location"], 0) + 1
    locations = []
    for row in rows:
        if group and row["location_group"] != group:
            continue
        tz = zone(row["timezone"])
        today = now.astimezone(tz).date()
        trend = daily(db, row["id"], today - timedelta(days=TREND_DAYS - 1), today, tz)
        last = trend[-1]
        locations.append({
            "slug": row["slug"], "name": row["name"], "timezone": row["timezone"],
            "group": row["location_group"], "date": last["date"],
            "today": {key: last[key] for key in ("counts", "total", "n", "happy_index",
                                                 "happy_index_ci")},
            "trend": trend, "open_alerts": per_location.get(row["slug"], 0),
        })
    shown = {entry["slug"] for entry in locations}
    return {
        "groups": sorted({row["location_group"] for row in rows if row["location_group"]}),
        "group": group,
        "locations": locations,
        "alerts": [a for a in open_alerts if a["location"] in shown],
        "silent_devices": [d for d in silent if d["location"] in shown],
    }


OVERVIEW_COLUMNS = ("slug", "name", "timezone", "group", "date", *MOOD_NAMES, "total",
                    "happy_index", "open_alerts", *INTERVAL_COLUMNS)


def overview_csv_rows(report):
    for entry in report["locations"]:
        today = entry["today"]
        yield [entry["slug"], entry["name"], entry["timezone"], entry["group"], entry["date"],
               *today["counts"].values(), today["total"], today["happy_index"],
               entry["open_alerts"], *interval_cells(today)]


def silent_devices(db, now, thresholds):
    """Devices not heard from (heartbeat or press) for their location's silent_after."""
    places = {row["id"]: row for row in registry.locations(db)}
    result = []
    for device in alert_store.devices(db):
        place = places[device["location_id"]]
        last = device["last_seen_at"]
        silent_after = thresholds[place["id"]]["silent_after_s"]
        if last is not None and last >= format_utc(now - timedelta(seconds=silent_after)):
            continue
        tz = zone(place["timezone"])
        result.append({"device_id": device["device_id"], "location": place["slug"],
                       "location_name": place["name"], "timezone": place["timezone"],
                       "last_seen_at": local_time(last, tz),
                       # Closed now: silent is expected (a kiosk switched off at night)
                       # and raises no alert; the list still says so.
                       "open_now": open_at(place["opening_hours"], tz, now)})
    return result


def alert_entry(row):
    tz = zone(row["timezone"])
    if row["resolved_at"]:
        state = "resolved"
    elif row["acknowledged_at"]:
        state = "acknowledged"
    elif row["cleared_at"]:
        state = "cleared"
    else:
        state = "open"
    detail = json.loads(row["detail"])
    to_acknowledge = seconds_between(row["opened_at"], row["acknowledged_at"])
    to_resolve = seconds_between(row["opened_at"], row["resolved_at"])
    return {
        "id": row["id"], "rule": row["rule"], "rule_name": RULE_NAMES[row["rule"]],
        "location": row["location"], "location_name": row["location_name"],
        "timezone": row["timezone"], "device_id": row["device_id"] or None,
        "state": state, "detail": detail,
        # A silent device's last sign of life, in the location's time like the rest.
        "last_seen_at": local_time(detail.get("last_seen_at"), tz),
        "opened_at": local_time(row["opened_at"], tz),
        "cleared_at": local_time(row["cleared_at"], tz),
        "acknowledged_at": local_time(row["acknowledged_at"], tz),
        "acknowledged_by": row["acknowledged_by"], "comment": row["comment"],
        "resolved_at": local_time(row["resolved_at"], tz),
        # Its life in words and seconds: opened -> acknowledged, opened -> resolved.
        "time_to_acknowledge": duration_words(to_acknowledge),
        "time_to_resolve": duration_words(to_resolve),
        "time_to_acknowledge_s": to_acknowledge, "time_to_resolve_s": to_resolve,
    }


def alert_list(db, open_only):
    return [alert_entry(row) for row in alert_store.alerts(db, open_only)]


ALERT_COLUMNS = ("id", "rule", "location", "device_id", "state", "opened_at", "cleared_at",
                 "acknowledged_at", "acknowledged_by", "comment", "resolved_at",
                 "time_to_acknowledge", "time_to_resolve", "time_to_acknowledge_s",
                 "time_to_resolve_s")


def alert_csv_rows(entries):
    for entry in entries:
        yield [entry[column] for column in ALERT_COLUMNS]


def location_page(db, slug, first, last, day, now):
    """A location over local dates *first*..*last*: heatmap (weekday x hour), daily trend,
    mood distribution, the hours of local date *day*, device health, open alerts."""
    location = _location(db, slug)
    tz = zone(location["timezone"])
    # The API's own function (and its limits); the heatmap sums its counts only.
    period = hourly(db, slug, first, last, intervals=False)
    heat = [[[0, 0, 0, 0] for _ in range(24)] for _ in range(7)]
    weekdays = {}
    for hour in period["hours"]:
        stamp = hour["hour_start"]
        weekday = weekdays.get(stamp[:10])
        if weekday is None:
            weekday = weekdays[stamp[:10]] = date.fromisoformat(stamp[:10]).weekday()
        cell = heat[weekday][int(stamp[11:13])]
        counts = hour["counts"]
        cell[0] += counts["very_unhappy"]
        cell[1] += counts["unhappy"]
        cell[2] += counts["happy"]
        cell[3] += counts["very_happy"]
    days = daily(db, location["id"], first, last, tz)
    totals = [sum(d["counts"][name] for d in days) for name in MOOD_NAMES]
    thresholds = alert_store.settings(db)[location["id"]]
    return {
        "location": {"slug": location["slug"], "name": location["name"],
                     "timezone": location["timezone"], "group": location["location_group"],
                     "opening_hours": location["opening_hours"]},
        "from": first.isoformat(), "to": last.isoformat(), "day": day.isoformat(),
        "today": now.astimezone(tz).date().isoformat(),
        "heatmap": [[summary(cell) for cell in row] for row in heat],
        "daily": days,
        "distribution": summary(totals),
        "day_hours": hourly(db, slug, day, day)["hours"],
        "devices": device_health(db, location["id"], tz, now, thresholds),
        "alerts": [a for a in alert_list(db, open_only=True) if a["location"] == slug],
        "thresholds": thresholds,
    }


DAILY_COLUMNS = ("date", *MOOD_NAMES, "total", "happy_index", *INTERVAL_COLUMNS)
HEATMAP_COLUMNS = ("weekday", "hour", *MOOD_NAMES, "total", "happy_index", *INTERVAL_COLUMNS)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def daily_csv_rows(days):
    for day in days:
        yield [day["date"], *day["counts"].values(), day["total"], day["happy_index"],
               *interval_cells(day)]


def heatmap_csv_rows(heatmap):
    for weekday, row in enumerate(heatmap):
        for hour, cell in enumerate(row):
            yield [WEEKDAYS[weekday], hour, *cell["counts"].values(), cell["total"],
                   cell["happy_index"], *interval_cells(cell)]


DEVICE_COLUMNS = ("device_id", "last_seen_at", "silent", "queued", "parked",
                  "oldest_queued_at",
                  "clock_synced", "clock_skew_ms", "version", "presses", "highest_seq",
                  "missing", "seq_jumped", "card", "card_since", "cards", "seq_conflicts",
                  "last_seq_conflict_at")
MOODS_COLUMNS = ("mood", "presses", "share_pct")


def device_csv_rows(devices):
    for device in devices:
        yield [device[column] for column in DEVICE_COLUMNS]


def moods_csv_rows(distribution):
    total = distribution["total"]
    for name, count in distribution["counts"].items():
        yield [name, count, None if not total else round(100 * count / total, 1)]


def device_health(db, location_id, tz, now, thresholds):
    """Each device here: last seen, queued presses, clock, version, presses never received."""
    silent_since = format_utc(now - timedelta(seconds=thresholds["silent_after_s"]))
    result = []
    for device in alert_store.devices(db, location_id):
        stored, highest = device["presses_stored"], device["highest_seq"]
        synced = device["clock_synced"]
        result.append({
            "device_id": device["device_id"],
            "last_seen_at": local_time(device["last_seen_at"], tz),
            "silent": device["last_seen_at"] is None or device["last_seen_at"] < silent_since,
            "queued": device["queued"],
            "parked": device["parked"],
            "oldest_queued_at": local_time(device["oldest_queued_at"], tz),
            "clock_synced": None if synced is None else bool(synced),
            "clock_skew_ms": device["clock_skew_ms"],
            "version": device["version"],
            "presses": stored, "highest_seq": highest,
            # A jump far ahead (a kiosk bug) is shown apart, not as presses missing.
            "missing": max(0, highest - stored - device["seq_jumped"]),
            "seq_jumped": device["seq_jumped"],
            # The press buffer (SD card) it sends from, since when, and how many it has had.
            "card": device["buffer_id"],
            "card_since": local_time(device["card_since"], tz),
            "cards": device["cards"],
            "seq_conflicts": device["seq_conflicts"],
            "last_seq_conflict_at": local_time(device["last_seq_conflict_at"], tz),
        })
    return result
