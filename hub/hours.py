"""Opening hours of a location: `mon-fri 07:00-22:00; sat 09:00-17:00`.

Each `;`-separated part is days (a day, a range `mon-fri`, or a comma list of those) and
one or more time ranges `HH:MM-HH:MM` (comma separated, end after start, `24:00` allowed).
Days not named are closed. No text at all means always open.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"(\d\d):(\d\d)-(\d\d):(\d\d)", re.ASCII)


class BadHours(ValueError):
    """Opening hours that do not follow the syntax; the message says where."""


@dataclass(frozen=True)
class OpeningHours:
    # weekday (0 = Monday) -> ((start minute, end minute), ...)
    week: dict

    @classmethod
    def parse(cls, text):
        week = {}
        for part in text.split(";"):
            part = part.strip()
            if not part:
                continue
            days_text, _, times_text = part.partition(" ")
            if not times_text.strip():
                raise BadHours(f"{part!r}: expected days then times, like 'mon-fri 07:00-22:00'")
            ranges = tuple(_time_range(t.strip()) for t in times_text.split(","))
            for day in _days(days_text):
                if day in week:
                    raise BadHours(f"{DAYS[day]} is given twice")
                week[day] = ranges
        if not week:
            raise BadHours("no days given")
        return cls(week)

    def is_open(self, local):
        """Whether the location is open at *local* (a datetime in the location's zone)."""
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.week.get(local.weekday(), ()))

    def intervals(self, tz, start, end):
        """The parts of [start, end) (aware instants) when open, as UTC (from, to) pairs in
        time order. Each local day's ranges become instants through zoneinfo (a range that
        starts in a skipped DST hour starts where the clocks changed)."""
        result = []
        day = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        while day <= last:
            for first, until in self.week.get(day.weekday(), ()):
                low = max(_instant(day, first, tz), start)
                high = min(_instant(day, until, tz), end)
                if low < high:
                    if result and result[-1][1] >= low:  # 24:00 then 00:00 the next day
                        result[-1] = (result[-1][0], max(result[-1][1], high))
                    else:
                        result.append((low, high))
            day += timedelta(days=1)
        return result


def _instant(day, minute, tz):
    """Local *day* at *minute* after midnight (1440: the next midnight), as a UTC instant."""
    day += timedelta(days=minute // (24 * 60))
    minute %= 24 * 60
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).astimezone(UTC)


def _days(text):
    days = []
    for group in text.lower().split(","):
        first, _, last = group.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise BadHours(f"{group!r}: expected a day (mon ... sun) or a range like mon-fri")
        start, end = DAYS.index(first), DAYS.index(last or first)
        if end < start:
            raise BadHours(f"{group!r}: a range of days runs forward, like mon-fri")
        days.extend(range(start, end + 1))
    return days


def _time_range(text):
    match = _RANGE.fullmatch(text)
    if match is None:
        raise BadHours(f"{text!r}: expected a time range like 07:00-22:00")
    h1, m1, h2, m2 = map(int, match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or end <= start:
        raise BadHours(f"{text!r}: expected a start before its end, 00:00-24:00")
    return start, end


def open_at(opening_hours, tz, instant):
    """Is a location with these opening hours (text, or None: always open) open at
    *instant*, in its zone *tz*? Hours stored before they were checked count as open: an
    alert too many rather than one missed."""
    hours = _parsed(opening_hours)
    return True if hours is None else hours.is_open(instant.astimezone(tz))


def open_intervals(opening_hours, tz, start, end):
    """The parts of [start, end) when a location with these opening hours is open, as UTC
    (from, to) pairs; the whole span when it is always open (or its hours do not parse,
    as for open_at)."""
    if start >= end:
        return []
    hours = _parsed(opening_hours)
    if hours is None:
        return [(start.astimezone(UTC), end.astimezone(UTC))]
    return hours.intervals(tz, start, end)


@lru_cache(maxsize=256)
def _parsed(opening_hours):
    """OpeningHours of the text; None for none (always open) or hours that do not parse."""
    if not opening_hours:
        return None
    try:
        return OpeningHours.parse(opening_hours)
    except BadHours:
        return None


def open_seconds(opening_hours, tz, start, end):
    """How many seconds of [start, end) the location is open."""
    return sum((high - low).total_seconds()
               for low, high in open_intervals(opening_hours, tz, start, end))
