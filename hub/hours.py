"""Opening hours of a location: `mon-fri 07:00-22:00; sat 09:00-17:00`.

Each `;`-separated part is days (a day, a range `mon-fri`, or a comma list of those) and
one or more time ranges `HH:MM-HH:MM` (comma separated, end after start, `24:00` allowed).
Days not named are closed. No text at all means always open.
"""

import re
from dataclasses import dataclass

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
    if not opening_hours:
        return True
    try:
        hours = OpeningHours.parse(opening_hours)
    except BadHours:
        return True
    return hours.is_open(instant.astimezone(tz))
