"""Property: in every IANA zone, around each of its 2026 and 2027 offset changes, local_hour
buckets exactly as an independent bucketing does (local date, local hour, UTC offset)."""

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from hub.times import local_hour

FIRST, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
SCAN = timedelta(hours=6)  # no zone changes its offset twice within six hours
AROUND = 120  # minutes either side of a change: the hours it touches and their neighbours
A_DAY = [datetime(2026, 7, 1, tzinfo=UTC) + n * timedelta(minutes=17) for n in range(86)]


def bucket(instant, tz):
    local = instant.astimezone(tz)
    return local.date(), local.hour, local.utcoffset()


def offset_changes(tz):
    """The UTC instants (whole seconds) at which *tz* changes its offset in 2026 and 2027."""
    changes = []
    instant, offset = FIRST, FIRST.astimezone(tz).utcoffset()
    while instant < END:
        later = instant + SCAN
        if later.astimezone(tz).utcoffset() != offset:
            low, high = instant, later  # offset at low is the old one, at high the new one
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) // 2
                middle = middle.replace(microsecond=0)
                if middle.astimezone(tz).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            changes.append(high)
            offset = later.astimezone(tz).utcoffset()
        instant = later
    return changes


def check(tz, instants):
    """local_hour against bucket() for *instants*."""
    keys, buckets = {}, {}
    for instant in instants:
        key_text, label = local_hour(instant, tz)
        key = datetime.fromisoformat(key_text)
        own = bucket(instant, tz)
        # The key is an instant of the same local hour, and the one just before it is not.
        assert key <= instant, (instant, key_text)
        assert bucket(key, tz) == own, (instant, key_text)
        assert bucket(key - timedelta(microseconds=1), tz) != own, (instant, key_text)
        # The label is that same first instant, in local time with its offset.
        shown = datetime.fromisoformat(label)
        assert shown == key and (shown.date(), shown.hour, shown.utcoffset()) == own, (
            instant, label)
        # Same bucket <=> same key.
        assert keys.setdefault(own, key_text) == key_text, (instant, own)
        assert buckets.setdefault(key_text, own) == own, (instant, key_text)
    # Each instant lies before the next hour's key.
    starts = sorted(datetime.fromisoformat(k) for k in buckets)
    for instant in instants:
        latest = starts[bisect_right(starts, instant) - 1]
        assert latest == datetime.fromisoformat(keys[bucket(instant, tz)]), instant


def around(change):
    minutes = [change + n * timedelta(minutes=1) for n in range(-AROUND, AROUND + 1)]
    edges = [change - timedelta(seconds=1), change - timedelta(microseconds=1),
             change + timedelta(seconds=1, microseconds=500)]
    return sorted(minutes + edges)


@pytest.mark.parametrize("name", sorted(available_timezones()))
def test_local_hour_agrees_with_an_independent_bucketing_in_every_zone(name):
    tz = ZoneInfo(name)
    check(tz, A_DAY)  # every zone's ordinary hours, whatever its offset's minutes
    for change in offset_changes(tz):
        check(tz, around(change))


def test_the_zones_with_odd_changes_are_among_those_checked():
    """The scan finds the changes the hub's odd cases come from (guards the scan itself)."""
    chatham = offset_changes(ZoneInfo("Pacific/Chatham"))
    assert datetime(2026, 9, 26, 14, tzinfo=UTC) in chatham  # 02:45+12:45 -> 03:45+13:45
    assert datetime(2026, 4, 4, 14, tzinfo=UTC) in chatham  # 03:45+13:45 -> 02:45+12:45
    assert len(chatham) == 4
    assert datetime(2026, 10, 3, 15, 30, tzinfo=UTC) in offset_changes(
        ZoneInfo("Australia/Lord_Howe"))  # 02:00+10:30 -> 02:30+11:00
    assert offset_changes(ZoneInfo("Asia/Kolkata")) == []
