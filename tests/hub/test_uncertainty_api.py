"""Every Happy Index the API gives comes with n and its 95 % interval, and GET
/api/v1/ranking orders locations by how sure we can be that visitors are happy."""

import pytest

from hub.store import registry
from tests.hub.helpers import error, hourly, press, send

CREATED = "2026-01-01T00:00:00.000Z"
# design.md's worked example: 126 / 60 / 16 / 17 presses of moods 4 / 3 / 2 / 1.
WORKED = {4: 126, 3: 60, 2: 16, 1: 17}


def presses(moods, at="2026-11-22T10:15:00Z", seq0=1, misuse=False):
    """One press per mood in *moods* ({mood: count}), all at *at*."""
    out, seq = [], seq0
    for mood, count in moods.items():
        for _ in range(count):
            out.append(press(seq, mood, at, misuse=misuse))
            seq += 1
    return out


def deliver(client, headers, device_id, items):
    for start in range(0, len(items), 1000):
        response = send(client, headers, items[start:start + 1000], device_id=device_id)
        assert response.status_code == 200, response.json


def add(db, client, slug, timezone="Europe/Amsterdam", group=None, moods=None,
        at="2026-11-22T10:15:00Z"):
    registry.add_location(db, slug, slug.upper(), timezone, None, CREATED, group=group)
    headers = {"Authorization": "Bearer " + registry.add_device(db, f"{slug}-1", slug, CREATED)}
    if moods:
        deliver(client, headers, f"{slug}-1", presses(moods, at))
    return headers


@pytest.fixture
def reader(site):
    return site.reader()


def test_todays_index_carries_n_and_its_interval(client, db, reader):
    kiosk = add(db, client, "ams", moods=WORKED)
    # Misuse presses are not counted, in n either.
    deliver(client, kiosk, "ams-1", presses({1: 5}, seq0=500, misuse=True))
    add(db, client, "ber", "Europe/Berlin", moods={4: 1})
    add(db, client, "cdg", "Europe/Paris")
    today = {row["slug"]: row["today"]
             for row in client.get("/api/v1/locations", headers=reader).json}
    assert today["ams"]["n"] == today["ams"]["total"] == 219
    assert (today["ams"]["happy_index"], today["ams"]["happy_index_ci"]) == (78.2, [74.2, 82.3])
    assert (today["ber"]["n"], today["ber"]["happy_index"], today["ber"]["happy_index_ci"]) == (
        1, 100.0, None)  # one press: no interval
    assert (today["cdg"]["n"], today["cdg"]["happy_index"], today["cdg"]["happy_index_ci"]) == (
        0, None, None)


def test_each_hour_carries_n_and_its_interval_in_json_and_csv(client, db, reader):
    kiosk = add(db, client, "ams", moods=WORKED)  # 11:00-12:00 Amsterdam time
    deliver(client, kiosk, "ams-1", presses({4: 1}, at="2026-11-22T08:30:00Z", seq0=300))
    hours = hourly(client, reader, "ams", "2026-11-22")
    assert [(h["hour_start"], h["n"], h["happy_index"], h["happy_index_ci"]) for h in hours] == [
        ("2026-11-22T09:00:00+01:00", 1, 100.0, None),
        ("2026-11-22T11:00:00+01:00", 219, 78.2, [74.2, 82.3]),
    ]
    csv = client.get("/api/v1/locations/ams/hourly", headers=reader, query_string={
        "from": "2026-11-22", "to": "2026-11-22", "format": "csv"}).get_data(as_text=True)
    assert csv.splitlines() == [
        "hour_start,very_unhappy,unhappy,happy,very_happy,total,happy_index,"
        "n,happy_index_low,happy_index_high",
        "2026-11-22T09:00:00+01:00,0,0,0,1,1,100.0,1,,",
        "2026-11-22T11:00:00+01:00,17,16,60,126,219,78.2,219,74.2,82.3",
    ]


def ranking(client, headers, **params):
    query = {"from": "2026-11-22", "to": "2026-11-22", **params}
    response = client.get("/api/v1/ranking", headers=headers, query_string=query)
    assert response.status_code == 200, response.json
    return response.json["rows"]


def test_five_of_five_happy_rank_below_four_hundred_of_five_hundred(client, db, reader):
    add(db, client, "small", moods={4: 5})  # 100 % happy, but of 5
    add(db, client, "big", moods={4: 300, 3: 100, 2: 60, 1: 40})  # 80 % of 500
    add(db, client, "sad", moods={1: 400, 4: 100})  # 20 % of 500
    add(db, client, "empty")
    rows = ranking(client, reader)
    assert [row["location"] for row in rows] == ["big", "small", "sad", "empty"]
    big, small, _, empty = rows
    assert big == {"location": "big", "name": "BIG", "n": 500, "positive_share": 80.0,
                   "positive_share_low": 76.3, "happy_index": 77.3,
                   "happy_index_ci": [74.5, 80.2]}
    assert (small["n"], small["positive_share"], small["positive_share_low"]) == (5, 100.0, 56.6)
    assert small["happy_index_ci"] == [100.0, 100.0]
    assert empty == {"location": "empty", "name": "EMPTY", "n": 0, "positive_share": None,
                     "positive_share_low": None, "happy_index": None, "happy_index_ci": None}


def test_the_ranking_counts_local_dates_of_each_location_without_misuse(client, db, reader):
    # 2026-11-22T12:30Z is already the 23rd in Auckland (01:30 NZDT), the 22nd in St John's.
    at = "2026-11-22T11:58:00Z"
    add(db, client, "akl", "Pacific/Auckland", moods={4: 40}, at=at)
    stj = add(db, client, "stj", "America/St_Johns", moods={4: 30, 1: 10}, at=at)
    deliver(client, stj, "stj-1", presses({4: 50}, at=at, seq0=100, misuse=True))
    on_22nd = {row["location"]: row["n"] for row in ranking(client, reader)}
    assert on_22nd == {"stj": 40, "akl": 0}
    on_23rd = {row["location"]: row["n"] for row in ranking(client, reader, **{
        "from": "2026-11-23", "to": "2026-11-23"})}
    assert on_23rd == {"akl": 40, "stj": 0}


def test_the_ranking_of_one_group(client, db, reader):
    add(db, client, "ams", group="Airport", moods={4: 3})
    add(db, client, "lhr", group="Airport", moods={3: 30})
    add(db, client, "clinic", group="Care", moods={4: 100})
    assert [row["location"] for row in ranking(client, reader, group="Airport")] == [
        "lhr", "ams"]
    assert [row["location"] for row in ranking(client, reader)] == ["clinic", "lhr", "ams"]
    assert ranking(client, reader, group="Nowhere") == []


@pytest.mark.parametrize("query, field", [
    ({"to": "2026-11-22"}, "from"),
    ({"from": "2026-11-22"}, "to"),
    ({"from": "2026-11-31", "to": "2026-12-01"}, "from"),
    ({"from": "2026-11-22", "to": "22-11-2026"}, "to"),
    ({"from": "2026-11-22", "to": "2026-11-21"}, "to"),
    ({"from": "2025-01-01", "to": "2026-11-22"}, "to"),  # over 400 days
])
def test_bad_ranking_dates_are_400_naming_the_parameter(client, reader, query, field):
    response = client.get("/api/v1/ranking", headers=reader, query_string=query)
    assert error(response) == (400, "invalid_field")
    assert response.json["error"]["message"].startswith(field)


def test_the_ranking_needs_a_reader(client, db, site):
    kiosk = add(db, client, "ams", moods={4: 1})
    url = "/api/v1/ranking?from=2026-11-22&to=2026-11-22"
    assert error(client.get(url)) == (401, "unauthorized")
    assert error(client.get(url, headers=kiosk)) == (403, "forbidden")
