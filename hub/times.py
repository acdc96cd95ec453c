"""Time on the hub: RFC 3339 in and out, where a press is placed, and local clock hours.

All arithmetic between zones goes through zoneinfo; no fixed offsets are ever added.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)", re.ASCII
)
_DATE = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)

# Timestamps outside these years are refused: they cannot be converted between zones safely.
FIRST_YEAR = 1900
LAST_YEAR = 9998

# Rule 1 of the contract: a synchronised device clock is trusted inside this window.
TRUSTED_SINCE = datetime(2020, 1, 1, tzinfo=UTC)
TRUSTED_AHEAD = timedelta(minutes=5)


def system_clock():
    """The hub's own clock: an aware UTC datetime."""
    return datetime.now(UTC)


def parse_timestamp(text):
    """An RFC 3339 timestamp with a zone (`2026-11-22T10:15:03.120Z`) as aware UTC, or None."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.upper()).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        return None
    return parsed


def parse_date(text):
    """A calendar date `YYYY-MM-DD` in the years FIRST_YEAR-LAST_YEAR, or None (a local day
    of year 1 or 9999 has no UTC instant in every zone)."""
    if not isinstance(text, str) or not _DATE.fullmatch(text):
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        return None
    return parsed if FIRST_YEAR <= parsed.year <= LAST_YEAR else None


def format_utc(instant):
    """`2026-11-22T10:15:03.120Z`: fixed width, so stored timestamps sort as text."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def canonical_utc(text, parsed):
    """*text* if it already is what format_utc(parsed) would give (the usual case), else that."""
    if len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z":
        return text
    return format_utc(parsed)


def zone(name):
    """The ZoneInfo for an IANA name, or None if there is no such zone."""
    if not isinstance(name, str) or not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def place_in_time(press, boot_id, uptime_ms, received, skews=None):
    """Where a press goes on the hub's time line: (placed UTC datetime, time_source).

    Rules 1-4 of the contract. *skews* maps earlier boots' ids to the clock skew the hub
    measured in them (device clock minus hub clock, a timedelta). A press whose uptime is
    later than the batch's (a kiosk bug), whose uptime placement falls before the supported
    years, or whose skew correction lands outside rule 1's window, is "uncertain", not
    refused.
    """
    pressed_at = press.pressed_at
    if press.clock_synced and _trusted(pressed_at, received):
        return pressed_at, "device"
    if press.boot_id == boot_id and press.uptime_ms <= uptime_ms:
        try:
            placed = received - timedelta(milliseconds=uptime_ms - press.uptime_ms)
        except OverflowError:
            placed = None
        if placed is not None and placed.year >= FIRST_YEAR:
            return placed, "uptime"
    if press.boot_id != boot_id and skews and press.boot_id in skews:
        try:
            placed = pressed_at - skews[press.boot_id]
        except OverflowError:
            placed = None
        # A correction that lands where rule 1 would not trust a clock is no better.
        if placed is not None and _trusted(placed, received):
            return placed, "skew"
    return pressed_at, "uncertain"


def _trusted(instant, received):
    return TRUSTED_SINCE <= instant <= received + TRUSTED_AHEAD


def local_hour(instant, tz):
    """The local clock hour holding *instant*: (UTC key, local start with its offset).

    A local clock hour is a local date, an hour and a UTC offset. The key is the UTC instant
    at which that hour really starts, and the label is that instant in local time: the
    repeated hour of a DST fall-back day gives two keys, a :30 zone's hour starts at :30 UTC,
    and an hour whose :00 does not exist with its offset starts where the clocks changed
    (Chatham's 03 on its DST day is 03:45+13:45).
    """
    utc = instant.astimezone(UTC)
    local = utc.astimezone(tz)
    offset = local.utcoffset()
    start = utc - timedelta(minutes=local.minute, seconds=local.second,
                            microseconds=local.microsecond)
    local_start = start.astimezone(tz)
    if local_start.utcoffset() != offset:  # the clocks changed inside this hour (rare)
        start = _offset_since(tz, start, utc, offset)
        local_start = start.astimezone(tz)
    return hour_key(start), local_start.isoformat()


def _offset_since(tz, before, instant, offset):
    """The UTC instant from which *tz* has had *offset* up to *instant*, found by bisection
    between *before* (another offset, a whole second) and *instant* (zones change offset on
    whole seconds)."""
    low, high = 0, int((instant - before).total_seconds())  # offsets: other, *offset*
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(tz).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return before + timedelta(seconds=high)


def hour_key(instant):
    """`2026-10-25T00:00:00Z`: the text form of a rollup's hour key."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_day_start(day, tz):
    """The UTC instant at which local *day* starts in *tz*."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_days(first, last, tz):
    """The UTC half-open interval [start, end) covering local dates *first*..*last* inclusive."""
    return local_day_start(first, tz), local_day_start(last + timedelta(days=1), tz)


def duration_words(seconds):
    """A duration as a person says it: "under a minute", "4 minutes", "1 hour 20 minutes",
    "2 days 3 hours" (the two largest units, rounded down); None for None."""
    if seconds is None:
        return None
    minutes = int(seconds) // 60
    if minutes < 1:
        return "under a minute"
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    while parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts[:2] if n)


def seconds_between(first, last):
    """Whole seconds from stored timestamp *first* to *last*, or None if either is None."""
    if not first or not last:
        return None
    return int((parse_timestamp(last) - parse_timestamp(first)).total_seconds())
