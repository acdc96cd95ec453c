"""The demo's actions: the airport's second scanner really ended its morning queue in the
generated presses, so its effect says "better"; the library's signs changed nothing."""

import random
from datetime import UTC, datetime

import pytest

from hub import demo, effects
from hub.store import Database

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    # Six weeks: 14 days before and after the scanner (21 days ago), and the library's signs.
    path = tmp_path_factory.mktemp("demo-actions") / "hub.db"
    demo.seed(path, days=42, now=NOW, rng=random.Random(7))
    db = Database(path)
    yield db
    db.close()


def actions(db):
    return {row["title"]: row for row in db.rows(
        "SELECT a.id, a.title, a.starts_at, a.created_by, l.slug FROM actions a"
        " JOIN locations l ON l.id = a.location_id")}


def test_the_demo_records_two_actions(seeded):
    found = actions(seeded)
    scanner = found["Second scanner opened"]
    assert (scanner["slug"], scanner["created_by"]) == ("ams-security", demo.DEMO_USER)
    assert scanner["starts_at"] == "2026-11-02T06:00:00.000Z"  # 07:00 in Amsterdam
    signs = found["Quiet-zone signs in the reading room"]
    assert signs["slug"] == "blr-library"
    assert signs["starts_at"] == "2026-11-05T04:30:00.000Z"  # 10:00 in Kolkata


def test_after_the_second_scanner_the_mornings_really_are_happier(seeded):
    # 07:00-09:00 in Amsterdam (winter time, +01:00) is 06:00-08:00 UTC; a week each side.
    def morning_negative_share(first, last):
        negative, total = seeded.row(
            "SELECT sum(mood <= 2), count(*) FROM presses p JOIN locations l"
            " ON l.id = p.location_id WHERE l.slug = 'ams-security' AND NOT misuse"
            " AND pressed_at >= ? AND pressed_at < ? AND substr(pressed_at, 12, 2) IN ('06', '07')",
            (first, last))
        return negative / total

    before = morning_negative_share("2026-10-26T06:00", "2026-11-02T06:00")
    after = morning_negative_share("2026-11-02T06:00", "2026-11-09T06:00")
    assert before > 0.25 and after < 0.2


def test_the_scanner_is_better_and_the_signs_are_no_clear_change(seeded):
    found = actions(seeded)
    scanner = effects.effect(seeded, found["Second scanner opened"]["id"], 14, NOW)
    assert scanner["verdict"] == "better"
    assert scanner["difference"]["happy_index_ci"][0] > 0
    assert scanner["before"]["n"] > 5000 and scanner["after"]["n"] > 5000
    assert scanner["summary"].startswith("Better: +")
    signs = effects.effect(seeded, found["Quiet-zone signs in the reading room"]["id"], 14, NOW)
    assert signs["verdict"] == "no_clear_change"
    assert signs["before"]["n"] > 1000 and signs["after"]["n"] > 1000
    assert signs["before"]["complete"] and signs["after"]["complete"]
