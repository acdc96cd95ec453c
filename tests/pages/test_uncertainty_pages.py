"""Pages show every Happy Index with its 95 % interval and n, mark few presses, and rank
locations by how sure we can be that visitors are happy."""

import csv
import html
import io
import re

from hub.store import registry
from tests.hub.helpers import press, send

CREATED = "2026-01-01T00:00:00.000Z"
WORKED = {4: 126, 3: 60, 2: 16, 1: 17}  # design.md: 78.2 (74.2–82.3), n = 219


def text(response):
    """The page as a person reads it: tags gone, entities decoded, spaces collapsed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<title>.*?</title>", " ", body, flags=re.S)  # SVG titles are tooltips
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).replace(
        " ,", ",")


def rows(response):
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def location(db, client, slug, moods, at="2026-11-22T10:15:00Z", group=None):
    """A location (Amsterdam time) and one kiosk's presses: {mood: count} at *at*."""
    registry.add_location(db, slug, slug.title(), "Europe/Amsterdam", None, CREATED,
                          group=group)
    kiosk = {"Authorization": "Bearer " + registry.add_device(db, f"{slug}-1", slug, CREATED)}
    presses = [press(seq, mood, at) for seq, mood in enumerate(
        [mood for mood, count in moods.items() for _ in range(count)], 1)]
    for start in range(0, len(presses), 1000):
        assert send(client, kiosk, presses[start:start + 1000],
                    device_id=f"{slug}-1").status_code == 200


def test_the_overview_shows_each_index_with_its_interval_and_n(admin, db, client):
    location(db, client, "ams", WORKED)
    location(db, client, "ber", {4: 3})
    location(db, client, "cdg", {})
    page = text(admin.get("/"))
    zone = "Europe/Amsterdam"
    assert f"Ams {zone} 78.2 (74.2–82.3), n = 219" in page  # design.md's example, verbatim
    assert f"Ber {zone} 100.0, n = 3, few presses" in page  # no interval that looks certain
    assert f"Cdg {zone} – no presses" in page
    assert 'Under 10 presses it says "few presses": too few to tell.' in page
    table = rows(admin.get("/?format=csv"))
    assert table[0][-4:] == ["open_alerts", "n", "happy_index_low", "happy_index_high"]
    found = {row[0]: row for row in table[1:]}
    assert found["ams"][-5:] == ["78.2", "0", "219", "74.2", "82.3"]
    assert found["ber"][-5:] == ["100.0", "0", "3", "100.0", "100.0"]  # the numbers, as the API
    assert found["cdg"][-5:] == ["", "0", "0", "", ""]


def test_the_overview_ranks_by_how_sure_we_are(admin, db, client):
    location(db, client, "small", {4: 5}, group="Airport")
    location(db, client, "big", {4: 300, 3: 100, 2: 60, 1: 40}, group="Airport")
    location(db, client, "clinic", {1: 30, 4: 10}, group="Care")
    page = text(admin.get("/"))
    ranking = page[page.index("Ranking"):page.index("Silent devices")]
    assert "5 happy presses out of 5 rank below 4,000 out of 5,000" in ranking
    assert re.search(r"1 Big 80\.0 % 76\.3 % 500 77\.3 \(74\.5–80\.2\), n = 500 "
                     r"2 Small 100\.0 % 56\.6 % 5 100\.0, n = 5, few presses "
                     r"3 Clinic 25\.0 % 14\.2 % 40", ranking), ranking
    # The page's ranking is the API's, for today's date.
    api = admin.get("/api/v1/ranking?from=2026-11-22&to=2026-11-22").json["rows"]
    shown = rows(admin.get("/?format=csv&table=ranking"))[1:]
    assert [[row["location"], str(row["n"]), str(row["positive_share_low"])] for row in api] == [
        [row[1], row[3], row[5]] for row in shown]
    airport = text(admin.get("/?group=Airport"))
    ranked = airport[airport.index("Ranking"):airport.index("Silent devices")]
    assert "Big" in ranked and "Clinic" not in ranked
    table = rows(admin.get("/?format=csv&table=ranking&ranking=7d"))
    assert table[0] == ["rank", "location", "name", "n", "positive_share", "positive_share_low",
                        "happy_index", "happy_index_low", "happy_index_high"]
    assert [row[:4] for row in table[1:]] == [["1", "big", "Big", "500"],
                                              ["2", "small", "Small", "5"],
                                              ["3", "clinic", "Clinic", "40"]]


def test_the_ranking_period_picker(admin, db, client, clock):
    location(db, client, "ams", {4: 20}, at="2026-11-19T10:00:00Z")  # three days ago
    assert "Ams – – 0 – no presses" in text(admin.get("/"))  # nothing today
    week = admin.get("/?ranking=7d")
    assert 'aria-current="page">7 days</a>' in week.get_data(as_text=True)
    assert "1 Ams 100.0 % 83.9 % 20" in text(week)
    assert "1 Ams 100.0 % 83.9 % 20" in text(admin.get("/?ranking=30d"))
    assert "Ams – – 0" in text(admin.get("/?ranking=forever"))  # unknown: today


def test_the_location_page_shows_intervals_and_marks_few_presses(admin, db, client):
    location(db, client, "ams", WORKED)  # Sunday 11:00-12:00 local
    send(client, {"Authorization": "Bearer " + registry.add_device(db, "ams-2", "ams", CREATED)},
         [press(1, 1, "2026-11-22T08:10:00Z"), press(2, 2, "2026-11-22T08:20:00Z")],
         device_id="ams-2")  # Sunday 09:00-10:00: 2 presses
    response = admin.get("/locations/ams?period=today")
    page = text(response)
    source = response.get_data(as_text=True)
    assert "221 presses · Happy Index 77.7 (73.6–81.8), n = 221" in page
    # The hours table: each index with its interval and n, or "few presses".
    assert "09:00 UTC+01:00 1 1 0 0 2 16.7, n = 2, few presses" in page
    assert "11:00 UTC+01:00 17 16 60 126 219 78.2 (74.2–82.3), n = 219" in page
    # The heatmap: the cell of 2 presses hatched and faded, its number still there; the cell
    # of 219 in its full colour; the legend says what hatching means.
    cells = dict(re.findall(r"<g><title>(Sun \d\d):00[^<]*</title>(.*?)</g>", source))
    assert "url(#few-presses)" in cells["Sun 09"] and "url(#few-presses)" not in cells["Sun 11"]
    assert "Sun 09:00-10:00: Happy Index 16.7, n = 2, few presses" in source
    assert "Sun 11:00-12:00: Happy Index 78.2 (74.2–82.3), n = 219" in source
    assert re.search(r'fill="#1a1a1a" aria-hidden="true">17</text>', source)
    assert "hatched: fewer than 10 presses, too few to tell" in source
    assert "Hatched and faded: fewer than 10 presses, too few to tell" in page
    # The daily trend: its tooltip and its 95 % band.
    assert "2026-11-22: Happy Index 77.7 (73.6–81.8), n = 221" in source
    assert "grey band: its 95 % interval" in source


def test_the_location_csvs_carry_n_and_the_interval(admin, db, client):
    location(db, client, "ams", WORKED)
    for table, row in (("daily", ["2026-11-22", "17", "16", "60", "126", "219", "78.2", "219",
                                  "74.2", "82.3"]),
                       ("heatmap", ["Sun", "11", "17", "16", "60", "126", "219", "78.2", "219",
                                    "74.2", "82.3"]),
                       ("hours", ["2026-11-22T11:00:00+01:00", "17", "16", "60", "126", "219",
                                  "78.2", "219", "74.2", "82.3"])):
        found = rows(admin.get(f"/locations/ams?period=today&table={table}&format=csv"))
        assert found[0][-4:] == ["happy_index", "n", "happy_index_low", "happy_index_high"]
        assert row in found[1:], table
