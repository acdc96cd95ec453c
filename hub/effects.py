"""Actions and their effect: what a team did at a location, and whether the presses changed.

An action has a start, an optional end, a title, a note, who recorded it and optionally the
alert it answers. Its effect compares the presses of two windows of the location (misuse
left out, by placed time, counted from the raw presses):

- before = [start − N days, start), after = [end or start, + N days), N = 7, 14 or 28;
- N days are N local calendar days at the same local clock time, so both windows are whole
  weeks: every weekday and every local hour of the week counts exactly N / 7 times on each
  side, also across a DST change (then a window is an hour longer or shorter);
- the numbers and the verdict are hub.stats' (design.md, "Honest numbers");
- an after window that has not ended yet gives the data so far, and says so;
- other actions of the location that start or end inside the windows are named: the change
  may be theirs.

The dicts built here are what the API answers and the pages render.
"""

import re
from datetime import UTC, datetime, timedelta

from hub import stats
from hub.errors import invalid_field, not_found
from hub.moods import named_counts
from hub.store import actions as store
from hub.store import alerts as alert_store
from hub.store import registry
from hub.times import (
    FIRST_YEAR,
    LAST_YEAR,
    format_utc,
    local_day_start,
    local_hour,
    parse_timestamp,
    zone,
)

WINDOW_DAYS = (7, 14, 28)
DEFAULT_DAYS = 14
MAX_TITLE = 200
MAX_NOTE = 2000
MAX_AHEAD = timedelta(days=366)  # an action planned further ahead is more likely a typo
ON_LOCATION_PAGE = 10  # the latest actions listed (with their effect) on a location page

_LOCAL = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d))?", re.ASCII)
VERDICT_WORDS = {"better": "Better", "worse": "Worse", "no_clear_change": "No clear change",
                 "too_few_presses": "Too few presses to tell"}


class BadAction(ValueError):
    """A field of an action the hub cannot take: *field* names it, *detail* says why."""

    def __init__(self, field, detail):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


# Reading times


def parse_time(text, tz, field="at"):
    """An instant (aware UTC) from RFC 3339 with an offset (`2026-11-22T07:30:00+01:00`) or a
    local time of the location, `YYYY-MM-DD HH:MM` (a `T` instead of the space, and seconds,
    are taken too). A local time that the clocks skip (DST gap) or show twice (DST fold) is
    refused with a message that says so; BadAction for anything else unreadable."""
    text = (text or "").strip()
    instant = parse_timestamp(text)
    if instant is not None:
        return instant
    match = _LOCAL.fullmatch(text)
    if match is None:
        raise BadAction(field, f"expected a local time YYYY-MM-DD HH:MM or RFC 3339 with an "
                               f"offset (2026-11-22T07:30:00+01:00), got {text[:40]!r}")
    try:
        naive = datetime(*(int(part or 0) for part in match.groups()))
    except ValueError:
        raise BadAction(field, f"{text!r} is not a date and time") from None
    if not FIRST_YEAR <= naive.year <= LAST_YEAR:
        raise BadAction(field, f"the year must be {FIRST_YEAR}-{LAST_YEAR}, got {naive.year}")
    return local_instant(naive, tz, field)


def local_instant(naive, tz, field="at"):
    """The one instant at which the clocks of *tz* show *naive*; BadAction in a DST gap or
    fold (the message names the zone and what the clocks do)."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    shown = f"{naive:%Y-%m-%d %H:%M}"
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        later = first.astimezone(UTC).astimezone(tz)
        raise BadAction(field, f"{shown} does not exist in {tz.key}: the clocks skip it "
                               f"(daylight saving time); did you mean {later:%H:%M}?")
    if first.utcoffset() != second.utcoffset():
        raise BadAction(field, f"{shown} happens twice in {tz.key} (the clocks go back): give "
                               f"it with its offset, {_rfc3339(first)} (the first) or "
                               f"{_rfc3339(second)} (the second)")
    return first.astimezone(UTC)


def _rfc3339(local):
    return local.isoformat(timespec="seconds")


def local_iso(instant, tz):
    """An instant as local RFC 3339 time with its offset, to the second."""
    return None if instant is None else instant.astimezone(tz).isoformat(timespec="seconds")


def local_input(instant, tz):
    """`2026-11-22 07:30`: how a form shows a local time (the hub's parse_time reads it)."""
    return f"{instant.astimezone(tz):%Y-%m-%d %H:%M}"


# Recording


def record(db, slug, *, title, at, until=None, note="", alert_id=None, created_by, now):
    """Check and store an action at location *slug*; its id. *at* and *until* are text as
    parse_time reads it; *alert_id* an alert of this location, or None. BadAction names a
    field the hub cannot take; a missing location is a not_found ApiError."""
    location = registry.location(db, slug)
    if location is None:
        raise not_found(f"no location {slug!r}")
    tz = zone(location["timezone"])
    title = " ".join((title or "").split())
    if not title:
        raise BadAction("title", "required: what was done, in a few words")
    if len(title) > MAX_TITLE:
        raise BadAction("title", f"at most {MAX_TITLE} characters")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise BadAction("note", f"at most {MAX_NOTE} characters")
    starts = parse_time(at, tz, "at")
    if starts > now + MAX_AHEAD:
        raise BadAction("at", "more than a year ahead")
    ends = None
    if until is not None and str(until).strip():
        ends = parse_time(until, tz, "until")
        if ends <= starts:
            raise BadAction("until", f"must be after the start ({local_input(starts, tz)})")
        if ends > now + 2 * MAX_AHEAD:
            raise BadAction("until", "more than two years ahead")
    if alert_id is not None:
        if store.alert_location_id(db, alert_id) != location["id"]:
            raise BadAction("alert", f"no alert {alert_id} at {slug}")
    return store.add(db, location["id"], title, note, format_utc(starts),
                     None if ends is None else format_utc(ends), created_by, format_utc(now),
                     alert_id)


def parse_alert_id(text):
    """An alert id from a form or the command line ("" or None: none); BadAction if not one."""
    text = "" if text is None else str(text).strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) == 0:
        raise BadAction("alert", f"expected an alert number, got {text[:20]!r}")
    return int(text)


# Reading


def entry(row):
    """The API's form of an action: times in the location's local time with their offset."""
    tz = zone(row["timezone"])
    return {
        "id": row["id"], "location": row["location"], "title": row["title"],
        "note": row["note"],
        "starts_at": local_iso(parse_timestamp(row["starts_at"]), tz),
        "ends_at": local_iso(parse_timestamp(row["ends_at"]), tz) if row["ends_at"] else None,
        "created_by": row["created_by"], "alert_id": row["alert_id"],
    }


def location_actions(db, slug):
    """GET /api/v1/locations/SLUG/actions: every action of the location, in time order."""
    location = registry.location(db, slug)
    if location is None:
        raise not_found(f"no location {slug!r}")
    return {"actions": [entry(row) for row in store.at_location(db, location["id"])]}


def check_days(value):
    """The window length from a query parameter: 7, 14 or 28 (None: the default)."""
    if value is None:
        return DEFAULT_DAYS
    if not (value.isascii() and value.isdigit() and int(value) in WINDOW_DAYS):
        raise invalid_field("days", "7, 14 or 28", value)
    return int(value)


def windows(starts_at, ends_at, days, tz):
    """(before_from, before_to, after_from, after_to), aware UTC: *days* local calendar days
    at the same local clock time before the start and after the end (or the start)."""
    after_from = ends_at or starts_at
    return (_shift(starts_at, -days, tz), starts_at, after_from, _shift(after_from, days, tz))


def _shift(instant, days, tz):
    # Wall-clock arithmetic in the zone: the same local time *days* dates away.
    local = instant.astimezone(tz)
    return (local + timedelta(days=days)).astimezone(UTC)


def effect(db, action_id, days, now):
    """GET /api/v1/actions/ID/effect: the two windows, n, Happy Index and negative share with
    their 95 % intervals, the difference with its interval and the verdict (hub.stats); and
    what a reader needs to weigh it: whether each window is over (`complete`), the hub's time
    (`as_of`), other actions in the windows (`overlapping`), the verdict in words (`summary`)."""
    row = store.action(db, action_id)
    if row is None:
        raise not_found(f"no action {action_id}")
    tz = zone(row["timezone"])
    starts = parse_timestamp(row["starts_at"])
    ends = parse_timestamp(row["ends_at"]) if row["ends_at"] else None
    before_from, before_to, after_from, after_to = windows(starts, ends, days, tz)
    before = _side(db, row["location_id"], before_from, before_to, now, tz)
    after = _side(db, row["location_id"], after_from, after_to, now, tz)
    diff = stats.difference(before[1], after[1])
    others = store.touching(db, row["location_id"], format_utc(before_from),
                            format_utc(after_to), row["id"])
    result = {
        "action": row["id"],
        "window_days": days,
        "before": before[0],
        "after": after[0],
        "difference": diff.as_dict(),
        "verdict": diff.verdict,
        "as_of": local_iso(now, tz),
        "overlapping": [_overlap(other, before_from, after_to) for other in others],
    }
    result["summary"] = summary_text(diff, before[1], after[1], after[0], now, after_from)
    return result


def _overlap(other, start, end):
    """Another action in the windows, and whether it "started" or "ended" inside them."""
    item = entry(other)
    inside = format_utc(start) <= other["starts_at"] < format_utc(end)
    return {"id": item["id"], "title": item["title"], "starts_at": item["starts_at"],
            "ends_at": item["ends_at"], "what": "started" if inside else "ended"}


def _side(db, location_id, start, end, now, tz):
    # Raw presses, not rollups: an action's windows start at any minute.
    counts = alert_store.press_counts(db, location_id, format_utc(start), format_utc(end))
    summary = stats.summarise(counts)
    full = summary.as_dict()
    return {
        "from": local_iso(start, tz), "to": local_iso(end, tz), "n": summary.n,
        "counts": named_counts(counts),
        "happy_index": full["happy_index"], "happy_index_ci": full["happy_index_ci"],
        "negative_share": full["negative_share"],
        "negative_share_ci": full["negative_share_ci"],
        "complete": end <= now,
    }, summary


def summary_text(diff, before, after, after_side, now, after_from):
    """The verdict in words (hub.stats.describe), saying when the after window is not over."""
    text = stats.describe(diff, before, after)
    if after_side["complete"]:
        return text
    if after_from > now:
        return f"{text}; the after window has not begun yet"
    return f"{text}; the after window runs until {_when(after_side['to'])}: this is the " \
           "data so far"


def _when(local_text):
    return f"{local_text[:10]} {local_text[11:16]}"


# Pages


def location_page(db, location, first, last, day, now, limit=ON_LOCATION_PAGE):
    """What a location page shows of its actions: the latest *limit* with their effect over
    the default window, markers for the daily trend over local dates first..last, and the
    actions that start or end in each local hour of *day* (keyed like the hourly rows)."""
    tz = zone(location["timezone"])
    rows = store.at_location(db, location["id"], newest_first=True, limit=limit)
    listed = [page_entry(db, row, DEFAULT_DAYS, now) for row in rows]
    markers, by_hour, on_day = [], {}, []
    shown = store.touching(db, location["id"], format_utc(local_day_start(first, tz)),
                           format_utc(local_day_start(last + timedelta(days=1), tz)), 0)
    for row in shown:
        item = entry(row)
        for key, word in (("starts_at", "started"), ("ends_at", "ended")):
            when = item[key]
            if when is None:
                continue
            markers.append({"date": when[:10], "id": item["id"], "number": len(markers) + 1,
                            "label": f"{item['title']} ({word} {_when(when)})"})
            if when[:10] == day.isoformat():
                hour = local_hour(parse_timestamp(row[key]), tz)[1]
                by_hour.setdefault(hour, []).append({**item, "what": word})
                on_day.append({**item, "what": word, "when": when})
    return {
        "actions": listed,
        "total": store.count_at_location(db, location["id"]),
        "markers": markers,
        "by_hour": by_hour,
        "on_day": on_day,
        "days": DEFAULT_DAYS,
        "now_input": local_input(now, tz),
    }


def all_at_location(db, location, now):
    """Every action of a location, newest first, each with its effect over the default
    window (the location's list of actions and its CSV)."""
    return [page_entry(db, row, DEFAULT_DAYS, now)
            for row in store.at_location(db, location["id"], newest_first=True)]


def page_entry(db, row, days, now):
    """An action with its effect over *days*, for the pages."""
    return {**entry(row), "effect": effect(db, row["id"], days, now),
            "created_at": local_iso(parse_timestamp(row["created_at"]), zone(row["timezone"]))}


def action_page(db, action_id, days, now):
    """An action's page: the action, its location, its alert, and its effect over *days*."""
    row = store.action(db, action_id)
    if row is None:
        raise not_found(f"no action {action_id}")
    tz = zone(row["timezone"])
    alert = None
    if row["alert_id"] is not None:
        found = store.alert_summary(db, row["alert_id"])
        if found is not None:
            alert = {"id": row["alert_id"], "rule": found["rule"],
                     "opened_at": local_iso(parse_timestamp(found["opened_at"]), tz)}
    return {
        **page_entry(db, row, days, now),
        "location_name": row["location_name"], "timezone": row["timezone"],
        "alert": alert, "window_choices": WINDOW_DAYS,
    }


EFFECT_COLUMNS = ("side", "from", "to", "complete", "n", "very_unhappy", "unhappy", "happy",
                  "very_happy", "happy_index", "happy_index_low", "happy_index_high",
                  "negative_share", "negative_share_low", "negative_share_high", "verdict")


def effect_csv_rows(result):
    """The action page's table as CSV rows: before, after, and the difference."""
    for name in ("before", "after"):
        side = result[name]
        yield [name, side["from"], side["to"], side["complete"], side["n"],
               *side["counts"].values(), side["happy_index"], *_pair(side["happy_index_ci"]),
               side["negative_share"], *_pair(side["negative_share_ci"]), None]
    diff = result["difference"]
    yield ["difference", None, None, None, None, None, None, None, None, diff["happy_index"],
           *_pair(diff["happy_index_ci"]), None, None, None, result["verdict"]]


ACTION_COLUMNS = ("id", "location", "title", "note", "starts_at", "ends_at", "created_by",
                  "alert_id", "window_days", "n_before", "n_after", "happy_index_before",
                  "happy_index_after", "difference", "difference_low", "difference_high",
                  "verdict", "after_complete")


def action_csv_rows(listed):
    for item in listed:
        result = item["effect"]
        diff = result["difference"]
        yield [item["id"], item["location"], item["title"], item["note"], item["starts_at"],
               item["ends_at"], item["created_by"], item["alert_id"], result["window_days"],
               result["before"]["n"], result["after"]["n"], result["before"]["happy_index"],
               result["after"]["happy_index"], diff["happy_index"],
               *_pair(diff["happy_index_ci"]), result["verdict"], result["after"]["complete"]]


def _pair(interval):
    return (None, None) if interval is None else (interval[0], interval[1])
