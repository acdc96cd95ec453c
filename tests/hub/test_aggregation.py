"""Counts per location and local clock hour: DST, odd offsets, moves, misuse, Happy Index."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.moods import happy_index
from hub.store import registry
from tests.hub.helpers import error, hourly, press, send


@pytest.fixture
def reader(site):
    return site.reader()


def utc_times(start, count, step=timedelta(hours=1)):
    first = datetime.fromisoformat(start)
    return [(first + n * step).astimezone(UTC).isoformat().replace("+00:00", "Z")
            for n in range(count)]


def presses_at(times, first_seq=1, **fields):
    return [press(first_seq + n, pressed_at=t, **fields) for n, t in enumerate(times)]


def test_spring_forward_day_has_23_hours_and_no_2_oclock(client, site, reader):
    site.location("ams", "Europe/Amsterdam")
    kiosk = site.device("kiosk-1", "ams")
    # One press at half past every UTC hour from the day before to the day after.
    send(client, kiosk, presses_at(utc_times("2026-03-28T20:30:00+00:00", 30)))
    hours = [h["hour_start"] for h in hourly(client, reader, "ams", "2026-03-29")]
    assert len(hours) == 23
    assert hours[:4] == ["2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00",
                         "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"]
    assert hours[-1] == "2026-03-29T23:00:00+02:00"
    assert not any(h.startswith("2026-03-29T02:") for h in hours)


def test_fall_back_day_has_25_hours_and_2_oclock_twice(client, site, reader):
    site.location("ams", "Europe/Amsterdam")
    kiosk = site.device("kiosk-1", "ams")
    send(client, kiosk, presses_at(utc_times("2026-10-24T19:30:00+00:00", 30)))
    hours = hourly(client, reader, "ams", "2026-10-25")
    starts = [h["hour_start"] for h in hours]
    assert len(starts) == 25
    assert starts[1:5] == ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
                           "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"]
    assert starts[0] == "2026-10-25T00:00:00+02:00"
    assert starts[-1] == "2026-10-25T23:00:00+01:00"
    assert all(h["total"] == 1 for h in hours)


def test_each_press_of_the_repeated_hour_counts_once(client, site, reader):
    site.location("ams", "Europe/Amsterdam")
    kiosk = site.device("kiosk-1", "ams")
    # 02:10 CEST (00:10Z) twice, 02:50 CET (01:50Z) three times.
    send(client, kiosk, presses_at(["2026-10-25T00:10:00Z"] * 2 + ["2026-10-25T01:50:00Z"] * 3))
    hours = hourly(client, reader, "ams", "2026-10-25")
    assert [(h["hour_start"], h["total"]) for h in hours] == [
        ("2026-10-25T02:00:00+02:00", 2), ("2026-10-25T02:00:00+01:00", 3)]


def test_kolkata_buckets_on_its_own_half_hours(client, site, reader):
    site.location("kol", "Asia/Kolkata")
    kiosk = site.device("kiosk-1", "kol")
    # 04:25Z is 09:55 IST and 04:45Z is 10:15 IST: the same UTC hour, two local hours.
    send(client, kiosk, presses_at(["2026-11-22T04:25:00Z", "2026-11-22T04:45:00Z",
                                    "2026-11-22T05:29:59.999Z"]))
    hours = hourly(client, reader, "kol", "2026-11-22")
    assert [(h["hour_start"], h["total"]) for h in hours] == [
        ("2026-11-22T09:00:00+05:30", 1), ("2026-11-22T10:00:00+05:30", 2)]


def test_kolkata_local_days_start_at_1830_utc(client, site, reader):
    site.location("kol", "Asia/Kolkata")
    kiosk = site.device("kiosk-1", "kol")
    send(client, kiosk, presses_at(["2026-11-21T18:29:00Z", "2026-11-21T18:30:00Z"]))
    assert [h["hour_start"] for h in hourly(client, reader, "kol", "2026-11-22")] == [
        "2026-11-22T00:00:00+05:30"]
    assert [h["hour_start"] for h in hourly(client, reader, "kol", "2026-11-21")] == [
        "2026-11-21T23:00:00+05:30"]


def test_st_johns_buckets_on_its_own_half_hours_in_winter_and_summer(client, site, reader,
                                                                      clock):
    clock.set("2026-11-23T00:00:00+00:00")
    site.location("stj", "America/St_Johns")
    kiosk = site.device("kiosk-1", "stj")
    send(client, kiosk, presses_at(["2026-11-22T13:15:00Z", "2026-11-22T13:45:00Z",
                                    "2026-07-01T13:45:00Z"]))
    winter = hourly(client, reader, "stj", "2026-11-22")
    assert [h["hour_start"] for h in winter] == ["2026-11-22T09:00:00-03:30",
                                                 "2026-11-22T10:00:00-03:30"]
    summer = hourly(client, reader, "stj", "2026-07-01")
    assert [h["hour_start"] for h in summer] == ["2026-07-01T11:00:00-02:30"]


def test_st_johns_dst_days_skip_and_repeat_their_own_half_hour_offset_hours(client, site,
                                                                            reader):
    site.location("stj", "America/St_Johns")
    kiosk = site.device("kiosk-1", "stj")
    # A press at :45 past every UTC hour around both days (02:00 local is when it changes).
    send(client, kiosk, presses_at(utc_times("2026-03-07T23:45:00+00:00", 30)
                                   + utc_times("2026-10-31T23:45:00+00:00", 30)))
    spring = [h["hour_start"] for h in hourly(client, reader, "stj", "2026-03-08")]
    assert len(spring) == 23
    assert spring[:4] == ["2026-03-08T00:00:00-03:30", "2026-03-08T01:00:00-03:30",
                          "2026-03-08T03:00:00-02:30", "2026-03-08T04:00:00-02:30"]
    assert not any(h.startswith("2026-03-08T02:") for h in spring)
    fall = hourly(client, reader, "stj", "2026-11-01")
    starts = [h["hour_start"] for h in fall]
    assert len(starts) == 25
    assert starts[:4] == ["2026-11-01T00:00:00-02:30", "2026-11-01T01:00:00-02:30",
                          "2026-11-01T01:00:00-03:30", "2026-11-01T02:00:00-03:30"]
    assert all(h["total"] == 1 for h in fall)


def test_chatham_dst_start_keeps_its_short_3_oclock_hour_apart(client, site, reader):
    site.location("cha", "Pacific/Chatham")
    kiosk = site.device("kiosk-1", "cha")
    # Clocks jump 02:45+12:45 -> 03:45+13:45 at 14:00Z: hour 03 lasts 15 minutes.
    # A press every 5 minutes from 13:30Z (02:15+12:45) to 14:30Z (04:15+13:45).
    send(client, kiosk, presses_at(utc_times("2026-09-26T13:30:00+00:00", 13,
                                             timedelta(minutes=5))))
    hours = hourly(client, reader, "cha", "2026-09-27")
    assert [(h["hour_start"], h["total"]) for h in hours] == [
        ("2026-09-27T02:00:00+12:45", 6), ("2026-09-27T03:45:00+13:45", 3),
        ("2026-09-27T04:00:00+13:45", 4)]


def test_chatham_dst_end_repeats_a_quarter_hour_of_2_oclock_as_its_own_row(client, site,
                                                                           reader):
    site.location("cha", "Pacific/Chatham")
    kiosk = site.device("kiosk-1", "cha")
    # Clocks go back 03:45+13:45 -> 02:45+12:45 at 14:00Z: 02:45-03:00 happens twice.
    send(client, kiosk, presses_at(utc_times("2026-04-04T13:30:00+00:00", 13,
                                             timedelta(minutes=5))))
    hours = hourly(client, reader, "cha", "2026-04-05")
    assert [(h["hour_start"], h["total"]) for h in hours] == [
        ("2026-04-05T03:00:00+13:45", 6), ("2026-04-05T02:45:00+12:45", 3),
        ("2026-04-05T03:00:00+12:45", 4)]


def test_kolkata_has_24_hours_on_the_days_europe_changes_its_clocks(client, site, reader):
    site.location("kol", "Asia/Kolkata")
    kiosk = site.device("kiosk-1", "kol")
    send(client, kiosk, presses_at(utc_times("2026-03-28T18:40:00+00:00", 24)
                                   + utc_times("2026-10-24T18:40:00+00:00", 24)))
    for day in ("2026-03-29", "2026-10-25"):
        hours = hourly(client, reader, "kol", day)
        assert [h["hour_start"] for h in hours] == [
            f"{day}T{hour:02d}:00:00+05:30" for hour in range(24)]


def test_moving_a_device_does_not_rewrite_history(client, site, reader, db):
    site.location("ams", "Europe/Amsterdam")
    site.location("kol", "Asia/Kolkata")
    kiosk = site.device("kiosk-1", "ams")
    send(client, kiosk, presses_at(["2026-11-22T09:00:00Z"]))
    registry.move_device(db, "kiosk-1", "kol", "2026-11-22T10:00:00.000Z")
    # A press from before the move arrives late; one from after the move arrives too.
    send(client, kiosk, presses_at(["2026-11-22T09:30:00Z", "2026-11-22T10:30:00Z"], 2))
    ams = hourly(client, reader, "ams", "2026-11-22")
    kol = hourly(client, reader, "kol", "2026-11-22")
    assert [(h["hour_start"], h["total"]) for h in ams] == [("2026-11-22T10:00:00+01:00", 2)]
    assert [(h["hour_start"], h["total"]) for h in kol] == [("2026-11-22T16:00:00+05:30", 1)]
    locations = dict(db.rows("SELECT seq, location_id FROM presses"))
    assert locations[1] == locations[2] != locations[3]


def worked_example():
    """126 / 60 / 16 / 17 presses of moods 4 / 3 / 2 / 1, all in one hour."""
    moods = [4] * 126 + [3] * 60 + [2] * 16 + [1] * 17
    return [press(n, mood=m, pressed_at="2026-11-22T10:15:00Z") for n, m in enumerate(moods, 1)]


def test_the_happy_index_worked_example(client, site, reader):
    site.location("ams")
    send(client, site.device("kiosk-1", "ams"), worked_example())
    (hour,) = hourly(client, reader, "ams", "2026-11-22")
    assert hour == {
        "hour_start": "2026-11-22T11:00:00+01:00",
        "counts": {"very_unhappy": 17, "unhappy": 16, "happy": 60, "very_happy": 126},
        "total": 219,
        "n": 219,
        "happy_index": 78.2,
        "happy_index_ci": [74.2, 82.3],  # design.md's "78.2 (74.2–82.3), n = 219"
    }
    (location,) = client.get("/api/v1/locations", headers=reader).json
    assert location["today"]["happy_index"] == 78.2


def test_happy_index_rounds_half_up_and_is_null_without_presses():
    assert happy_index((17, 16, 60, 126)) == 78.2
    assert happy_index((0, 0, 9, 7)) == 81.3  # exactly 81.25; round() would give 81.2
    assert happy_index((1, 0, 0, 0)) == 0.0
    assert happy_index((0, 0, 0, 1)) == 100.0
    assert happy_index((0, 0, 0, 0)) is None


def test_misuse_is_left_out_unless_asked_for(client, site, reader):
    site.location("ams")
    kiosk = site.device("kiosk-1", "ams")
    send(client, kiosk, [
        press(1, mood=4, pressed_at="2026-11-22T10:15:00Z"),
        press(2, mood=1, pressed_at="2026-11-22T10:15:01Z", misuse=True),
        press(3, mood=1, pressed_at="2026-11-22T11:15:00Z", misuse=True),
    ])
    plain = hourly(client, reader, "ams", "2026-11-22")
    assert [(h["hour_start"], h["total"], h["happy_index"]) for h in plain] == [
        ("2026-11-22T11:00:00+01:00", 1, 100.0)]
    everything = hourly(client, reader, "ams", "2026-11-22", include_misuse="1")
    assert [(h["total"], h["happy_index"]) for h in everything] == [(2, 50.0), (1, 0.0)]


def test_hourly_as_csv_has_the_same_rows(client, site, reader):
    site.location("ams")
    send(client, site.device("kiosk-1", "ams"), worked_example())
    response = client.get("/api/v1/locations/ams/hourly", headers=reader, query_string={
        "from": "2026-11-22", "to": "2026-11-22", "format": "csv"})
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).splitlines() == [
        "hour_start,very_unhappy,unhappy,happy,very_happy,total,happy_index,"
        "n,happy_index_low,happy_index_high",
        "2026-11-22T11:00:00+01:00,17,16,60,126,219,78.2,219,74.2,82.3",
    ]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-11-22", "to": "2026-11-21"}, "to"),
        ({"from": "2026-01-01", "to": "2027-02-05"}, "to"),
        ({"from": "2026-11-31", "to": "2026-12-01"}, "from"),
        ({"from": "22-11-2026", "to": "2026-12-01"}, "from"),
        ({"to": "2026-12-01"}, "from"),
        ({"from": "2026-11-22"}, "to"),
        ({"from": "2026-11-22", "to": "2026-11-22", "include_misuse": "yes"}, "include_misuse"),
        ({"from": "2026-11-22", "to": "2026-11-22", "format": "xml"}, "format"),
        # Dates whose local day has no UTC instant in some zone: a 400, not a 500.
        ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
        ({"from": "0001-01-01", "to": "0001-01-01"}, "from"),
        ({"from": "2026-11-22", "to": "9999-12-31"}, "to"),
    ],
)
def test_bad_dates_and_parameters_are_400(client, site, reader, query, field):
    site.location("ams")
    response = client.get("/api/v1/locations/ams/hourly", headers=reader, query_string=query)
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith(f"{field}: ")


def test_400_days_is_the_most_one_request_covers(client, site, reader):
    site.location("ams")
    assert hourly(client, reader, "ams", "2026-01-01", "2027-02-04") == []


def test_an_unknown_location_is_404(client, site, reader):
    response = client.get("/api/v1/locations/nowhere/hourly", headers=reader,
                          query_string={"from": "2026-11-22", "to": "2026-11-22"})
    assert error(response) == (404, "not_found")


def test_today_is_the_locations_own_day(client, site, reader, clock):
    site.location("kol", "Asia/Kolkata")
    site.location("stj", "America/St_Johns")
    kiosk = site.device("kiosk-1", "kol")
    # The hub's clock: 2026-11-22 12:00Z = 17:30 IST. 18:15Z on the 21st was the 21st in Kolkata.
    send(client, kiosk, presses_at(["2026-11-21T18:15:00Z", "2026-11-21T18:45:00Z",
                                    "2026-11-22T11:59:00Z"]))
    locations = {loc["slug"]: loc for loc in client.get("/api/v1/locations", headers=reader).json}
    assert locations["kol"] == {
        "slug": "kol", "name": "KOL", "timezone": "Asia/Kolkata",
        "today": {"counts": {"very_unhappy": 0, "unhappy": 0, "happy": 0, "very_happy": 2},
                  "total": 2, "n": 2, "happy_index": 100.0,
                  "happy_index_ci": [100.0, 100.0]},
    }
    assert locations["stj"]["today"]["total"] == 0
    assert locations["stj"]["today"]["happy_index"] is None
