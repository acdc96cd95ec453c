"""The data behind every view: plain dicts that JSON, CSV and HTML pages all render.

Dates here are local dates of the location; the UTC bounds come from zoneinfo.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date

from hub.errors import invalid_field, not_found
from hub.moods import happy_index, named_counts
from hub.store import reads, registry
from hub.times import format_utc, hour_key, local_days, zone

MAX_DAYS = 400
HOURLY_COLUMNS = ("hour_start", "very_unhappy", "unhappy", "happy", "very_happy", "total",
                  "happy_index")


def summary(counts):
    """{counts, total, happy_index} for counts in mood order 1-4."""
    return {"counts": named_counts(counts), "total": sum(counts),
            "happy_index": happy_index(counts)}


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


def hourly(db, slug, first, last, include_misuse=False):
    """One entry per local clock hour with presses, local dates *first*..*last* inclusive."""
    if last < first:
        raise invalid_field("to", f"a date on or after from ({first})", last.isoformat())
    if (last - first).days + 1 > MAX_DAYS:
        raise invalid_field("to", f"at most {MAX_DAYS} days after from", last.isoformat())
    location = _location(db, slug)
    start, end = local_days(first, last, zone(location["timezone"]))
    hours = reads.hourly_counts(db, location["id"], hour_key(start), hour_key(end),
                                include_misuse)
    return {
        "location": location["slug"],
        "timezone": location["timezone"],
        "hours": [
            {
                "hour_start": hour_start,
                "counts": {"very_unhappy": n1, "unhappy": n2, "happy": n3, "very_happy": n4},
                "total": n1 + n2 + n3 + n4,
                "happy_index": happy_index((n1, n2, n3, n4)),
            }
            for hour_start, n1, n2, n3, n4 in hours
        ],
    }


def hourly_csv_rows(report):
    for hour in report["hours"]:
        yield [hour["hour_start"], *hour["counts"].values(), hour["total"], hour["happy_index"]]


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
    ):
        return tuple(position)
    raise invalid_field("after", "a cursor from a previous page's next", cursor)
