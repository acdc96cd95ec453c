"""The negative-feedback rule: compared with what is usual here ("usual", the default) or
HappyOrNot's fixed 50 % ("simple"); opening hours and misuse; the test's arithmetic."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

from hub import alerts
from hub import negative_feedback as rule
from hub.hours import open_intervals
from hub.store import alerts as alert_store
from hub.store import registry
from hub.times import format_utc
from tests.hub.helpers import press, send

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Amsterdam
TODAY = NOW.astimezone(AMS).date()


def local(day, hour, minute=0, second=0):
    return datetime(day.year, day.month, day.day, hour, minute, second,
                    tzinfo=AMS).astimezone(UTC)


class Kiosk:
    """One kiosk sending presses [(instant, mood[, misuse])] through the API."""

    def __init__(self, client, headers, device_id="kiosk-1"):
        self.client, self.headers, self.device_id, self.seq = client, headers, device_id, 0

    def send(self, presses):
        batch = []
        for when, mood, *misuse in presses:
            self.seq += 1
            batch.append(press(self.seq, mood=mood, pressed_at=format_utc(when),
                               misuse=bool(misuse and misuse[0])))
        for first in range(0, len(batch), 1000):
            response = send(self.client, self.headers, batch[first:first + 1000],
                            device_id=self.device_id)
            assert response.status_code == 200, response.json

    def history(self, hours, negative_of_20, days=rule.HISTORY_DAYS):
        """20 presses in each local hour of *hours* on each of the *days* before today,
        *negative_of_20* of them negative."""
        self.send([(local(TODAY - timedelta(days=back), hour, 2 * i), 2 if i < negative_of_20
                    else 4) for back in range(1, days + 1) for hour in hours for i in range(20)])

    def burst(self, moods, minutes_ago=5, now=NOW):
        self.send([(now - timedelta(minutes=minutes_ago, seconds=i), mood)
                   for i, mood in enumerate(moods)])


@pytest.fixture
def kiosk(site, client, clock):
    clock.now = NOW
    site.location("ams")
    return Kiosk(client, site.device("kiosk-1", "ams"))


def use(db, slug, preset, **limits):
    location_id = registry.location(db, slug)["id"]
    alert_store.save_settings(db, location_id, {**alert_store.settings(db)[location_id],
                                                "rule": preset, **limits})


def raised(db, now=NOW):
    return [alert_id for event, alert_id in alerts.evaluate(db, now) if event == "alert.raised"]


def detail(db, alert_id):
    return alert_store.alert(db, alert_id)["detail"]


def test_the_default_rule_is_usual_and_simple_is_a_preset(db, kiosk):
    assert alert_store.settings(db)[1]["rule"] == "usual"
    use(db, "ams", "simple")
    assert alert_store.settings(db)[1] == {"window_s": 900, "min_presses": 4, "share_pct": 50,
                                           "silent_after_s": 900, "rule": "simple"}


def test_three_of_four_is_ordinary_where_15_percent_is_usual_but_simple_fires(db, kiosk):
    kiosk.history(hours=(10, 11, 12), negative_of_20=3)  # 15 % negative, as usual
    kiosk.burst((1, 2, 1, 4))  # 3 of 4 negative: the simple preset's alert
    assert raised(db) == []
    use(db, "ams", "simple")
    assert raised(db) == [1]
    assert '"rule": "simple"' in detail(db, 1)


def test_a_clearly_bad_quarter_hour_fires_the_usual_rule(db, kiosk):
    kiosk.history(hours=(10, 11, 12), negative_of_20=3)
    kiosk.burst((1, 2, 1, 1, 2, 4, 1, 2))  # 7 of 8 negative where 15 % is usual
    assert raised(db) == [1]
    shown = alert_store.alert(db, 1)
    assert '"negative": 7' in shown["detail"] and '"usual_pct": 15.0' in shown["detail"]


def test_a_new_location_leans_on_the_prior_until_it_has_history(db, kiosk):
    place = registry.location(db, "ams")
    assert rule.usual_share(db, place, NOW) == pytest.approx(rule.PRIOR_SHARE)
    kiosk.burst((1, 1, 2, 2))  # 4 of 4: not enough to tell against 25 % + the margin
    assert raised(db) == []
    kiosk.burst((1, 2, 1, 2), minutes_ago=3)  # 8 of 8 is
    assert raised(db) == [1]
    assert '"usual_pct": 25.0' in detail(db, 1)


def test_the_usual_share_is_this_hours_leaning_on_its_neighbours_when_thin(db, kiosk):
    kiosk.history(hours=(11,), negative_of_20=10)  # 11:00-12:00 is usually bad: 50 %
    kiosk.history(hours=(10, 12), negative_of_20=2)  # the hours around it 10 %
    place = registry.location(db, "ams")

    def at(hour):
        return rule.usual_share(db, place, local(TODAY, hour, 30))

    def lean(negative, n, towards):  # as if 50 presses at the share *towards* were added
        return (negative + 50 * towards) / (n + 50)

    day = lean(280 + 2 * 56, 3 * 560, 0.25)  # 392 of 1,680 negative, 23 %
    assert at(11) == pytest.approx(lean(280, 560, lean(392, 1680, day)))  # 560 of its own
    assert at(11) == pytest.approx(0.48, abs=0.01)
    assert at(13) == pytest.approx(lean(56, 560, day))  # none: its neighbour 12:00 speaks
    assert at(16) == pytest.approx(day)  # none around: the whole day


def test_the_usual_share_leaves_out_hours_when_the_location_is_closed(db, kiosk):
    registry.update_location(db, "ams", "AMS", "Europe/Amsterdam", "mon-sun 08:00-20:00", None)
    kiosk.history(hours=(7,), negative_of_20=20)  # the cleaners at 07:00, before opening
    kiosk.history(hours=(8, 9), negative_of_20=2)
    place = registry.location(db, "ams")
    # 08:30's hours are 07-09; 07:00-08:00 is closed every day and does not count.
    assert rule.usual_share(db, place, local(TODAY, 8, 30)) == pytest.approx(0.10, abs=0.01)


def test_only_presses_in_opening_hours_count_in_the_window(db, kiosk):
    registry.update_location(db, "ams", "AMS", "Europe/Amsterdam", "mon-fri 09:00-17:00", None)
    use(db, "ams", "simple")
    opening = local(TODAY, 9, 0)
    kiosk.send([(opening - timedelta(minutes=8, seconds=i), 1) for i in range(6)])  # closed
    kiosk.send([(opening + timedelta(minutes=1, seconds=i), 1) for i in range(2)])
    at = opening + timedelta(minutes=5)
    assert raised(db, at) == []  # 2 presses since opening: too few
    kiosk.send([(opening + timedelta(minutes=3, seconds=i), 2) for i in range(2)])
    assert raised(db, at) == [1]
    assert '"presses": 4' in detail(db, 1)


def test_misuse_presses_do_not_count(db, kiosk):
    use(db, "ams", "simple")
    kiosk.send([(NOW - timedelta(minutes=5), 1)]
               + [(NOW - timedelta(minutes=5, seconds=-0.4 * (i + 1)), 1, True) for i in range(5)])
    assert raised(db) == []
    kiosk.burst((1, 2, 1), minutes_ago=2)
    assert raised(db) == [1]
    assert '"presses": 4' in detail(db, 1)


@given(n=st.integers(0, 300), k=st.integers(0, 300), p=st.floats(0.0, 1.0))
def test_the_binomial_tail_agrees_with_scipy(n, k, p):
    expected = 1.0 if k <= 0 else float(binom.sf(k - 1, n, p))
    assert rule.binomial_tail(k, n, p) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_open_intervals_follow_the_local_clock_over_a_dst_change():
    # 2026-03-29: Amsterdam moves from +01:00 to +02:00; 01:00-04:00 local is 2 hours long.
    start = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
    spans = open_intervals("mon-sun 01:00-04:00", AMS, start, start + timedelta(hours=12))
    assert spans == [(datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
                      datetime(2026, 3, 29, 2, 0, tzinfo=UTC))]
    # Closed at night and at the weekend; always open without hours.
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert open_intervals("mon-fri 09:00-17:00", AMS, friday, friday + timedelta(days=3)) == [
        (friday, datetime(2026, 11, 27, 16, 0, tzinfo=UTC)),
        (datetime(2026, 11, 30, 8, 0, tzinfo=UTC), friday + timedelta(days=3))]
    assert open_intervals(None, AMS, friday, friday + timedelta(hours=1)) == [
        (friday, friday + timedelta(hours=1))]
