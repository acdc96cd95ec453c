"""A location's time zone changes: its hourly rows move to the new zone at once, in the
transaction of the change, while presses that arrive during the recount are counted too,
and the write lock is held only for the short write (kiosks keep sending meanwhile)."""

import sqlite3
import threading

import pytest

from hub.store import Database, registry, rollups
from tests.hub.helpers import hourly, press, send
from tests.pages import conftest as page_fixtures
from tests.pages.conftest import post_form

admin = page_fixtures.admin

# 10:15Z and 10:45Z are both 11:xx in Amsterdam, but 15:45 and 16:15 in Kolkata.
AMS_HOURS = [("2026-11-22T11:00:00+01:00", 2)]
KOL_HOURS = [("2026-11-22T15:00:00+05:30", 1), ("2026-11-22T16:00:00+05:30", 1)]


def _hours(client, headers, slug="ams", day="2026-11-22"):
    return [(row["hour_start"], row["total"]) for row in hourly(client, headers, slug, day)]


def _rollups(db):
    return [tuple(row) for row in db.rows("SELECT * FROM rollups ORDER BY 1, 2")]


def _rebuilt(db):
    """The rollups as a full rebuild from the raw presses makes them (then restored)."""
    kept = _rollups(db)
    rollups.rebuild_rollups(db)
    rebuilt = _rollups(db)
    with db.atomic():
        db.execute("DELETE FROM rollups")
        db.executemany("INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", kept)
    return rebuilt


@pytest.fixture
def ams(site, client):
    site.location("ams")
    kiosk = site.device("kiosk-1", "ams")
    send(client, kiosk, [press(1, 4, "2026-11-22T10:15:00Z"), press(2, 2, "2026-11-22T10:45:00Z")])
    return kiosk


def test_a_zone_change_on_the_admin_page_moves_the_hourly_rows_at_once(admin, ams, db):
    assert _hours(admin, {}) == AMS_HOURS
    saved = post_form(admin, "/admin/locations/ams", "/admin/locations/ams", {
        "name": "Kolkata", "timezone": "Asia/Kolkata", "hours": "", "group": "",
        "window_min": "15", "min_presses": "4", "share_pct": "50", "silent_after_min": "15"})
    assert saved.status_code == 302
    assert _hours(admin, {}) == KOL_HOURS  # no `hub rebuild-rollups` needed
    page = admin.get(saved.location).get_data(as_text=True)
    assert "its 2 presses are counted in the hours of Asia/Kolkata now" in page
    assert _rollups(db) == _rebuilt(db)
    # Saving again without a new zone recounts nothing and changes no row.
    post_form(admin, "/admin/locations/ams", "/admin/locations/ams", {
        "name": "Kolkata 2", "timezone": "Asia/Kolkata", "hours": "", "group": "",
        "window_min": "15", "min_presses": "4", "share_pct": "50", "silent_after_min": "15"})
    assert "Location ams saved." in admin.get("/admin/locations/ams").get_data(as_text=True)
    assert registry.location(db, "ams")["name"] == "Kolkata 2"
    assert _hours(admin, {}) == KOL_HOURS


def test_hub_location_edit_changes_the_zone_and_the_rows_with_it(hub_cli, site, ams, client):
    reader = site.reader()
    assert _hours(client, reader) == AMS_HOURS
    result = hub_cli("location", "edit", "ams", "--timezone", "Asia/Kolkata")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ("edited location ams (Asia/Kolkata): recounted 2 presses"
                             " into 2 hourly rollups\n")
    assert _hours(client, reader) == KOL_HOURS
    # What is not given stays; "" clears the hours and the group.
    assert hub_cli("location", "edit", "ams", "--name", "Kolkata", "--hours",
                   "mon-fri 07:00-22:00", "--group", "South").exit_code == 0
    row = registry.location(site.db, "ams")
    assert (row["name"], row["timezone"], row["opening_hours"], row["location_group"]) == (
        "Kolkata", "Asia/Kolkata", "mon-fri 07:00-22:00", "South")
    assert hub_cli("location", "edit", "ams", "--hours", "", "--group", "").stdout == (
        "edited location ams (Asia/Kolkata)\n")
    row = registry.location(site.db, "ams")
    assert (row["opening_hours"], row["location_group"]) == (None, None)
    assert _hours(client, reader) == KOL_HOURS


@pytest.mark.parametrize(("args", "mentions", "code"), [
    (["ams", "--timezone", "Europe/Amsterdm"], "--timezone", 2),
    (["ams", "--hours", "mon 7-22"], "--hours", 2),
    (["ams", "--name", " "], "--name", 2),
    (["ams"], "nothing to change", 2),
    (["nowhere", "--timezone", "UTC"], "no location 'nowhere'", 1),
])
def test_hub_location_edit_refuses_bad_input_in_one_line(hub_cli, ams, args, mentions, code):
    result = hub_cli("location", "edit", *args)
    assert result.exit_code == code
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert mentions in result.stderr and "Traceback" not in result.stderr


def test_hub_location_edit_has_help_with_an_example(hub_cli):
    result = hub_cli("location", "edit", "--help")
    assert result.exit_code == 0 and "Example:" in result.stdout
    assert "hub location edit ams-security --timezone" in result.stdout


def test_presses_that_arrive_during_the_recount_are_counted(ams, db, site, client):
    reader = site.reader()
    location_id = registry.location(db, "ams")["id"]
    count = rollups.LocationCount(location_id, "Asia/Kolkata")
    assert count.read(db) == 2
    # Between the snapshot and the write, kiosks go on sending: stored, in the old zone.
    assert send(client, ams, [press(3, 3, "2026-11-22T10:50:00Z")]).json["inserted"] == 1
    assert count.read(db) == 1  # a catch-up round, still outside the write lock
    assert send(client, ams, [press(4, 1, "2026-11-22T11:40:00Z"),
                              press(5, 1, "2026-11-22T09:10:00Z")]).json["inserted"] == 2
    assert count.write(db) is True  # counts 4 and 5 under the lock, with the change
    assert registry.location(db, "ams")["timezone"] == "Asia/Kolkata"
    assert _hours(client, reader) == [("2026-11-22T14:00:00+05:30", 1),
                                      ("2026-11-22T15:00:00+05:30", 1),
                                      ("2026-11-22T16:00:00+05:30", 2),
                                      ("2026-11-22T17:00:00+05:30", 1)]
    assert count.presses == 5
    assert _rollups(db) == _rebuilt(db)


def test_a_rebuild_that_raced_a_zone_change_never_writes_the_old_zone(ams, db, site, client):
    reader = site.reader()
    location_id = registry.location(db, "ams")["id"]
    count = rollups.LocationCount(location_id)  # `hub rebuild-rollups`: the location's own zone
    count.read(db)  # counted in Europe/Amsterdam ...
    registry.update_location(db, "ams", "AMS", "Asia/Kolkata", None, None)  # ... meanwhile
    assert count.write(db) is False  # would have put Amsterdam hours back: nothing written
    assert _hours(client, reader) == KOL_HOURS
    count.read(db)  # starts over in the zone the location has now
    assert count.write(db) is True
    assert _hours(client, reader) == KOL_HOURS
    assert _rollups(db) == _rebuilt(db)


def _seed(db, location_id, device_id, presses):
    rows = [(device_id, n, f"00000000-0000-4000-8000-{n:012x}", 1 + n % 4,
             f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00.000Z",
             "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z", "device", 0,
             location_id, "boot", n, 1) for n in range(1, presses + 1)]
    with db.atomic():
        db.executemany("INSERT INTO presses (device_id, seq, id, mood, pressed_at,"
                       " device_pressed_at, received_at, time_source, misuse, location_id,"
                       " boot_id, uptime_ms, clock_synced)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


@pytest.mark.parametrize("how", ["zone change", "rebuild-rollups"])
def test_writers_get_the_lock_while_a_big_location_is_recounted(site, db, db_path, how):
    site.location("ams")
    site.device("kiosk-1", "ams")
    _seed(db, registry.location(db, "ams")["id"], "kiosk-1", 60_000)
    done = threading.Event()

    def rebuild():
        own = Database(db_path)  # a connection belongs to its thread
        try:
            if how == "zone change":
                registry.update_location(own, "ams", "AMS", "Asia/Kolkata", None, None)
            else:
                rollups.rebuild_rollups(own)
        finally:
            own.close()
            done.set()

    # Another writer (a kiosk's batch) tries for the write lock, without waiting, again and
    # again while the recount runs: with the lock held through the count it never gets it.
    writer = sqlite3.connect(db_path, timeout=0, isolation_level=None, check_same_thread=False)
    worker = threading.Thread(target=rebuild)
    tries = got = 0
    worker.start()
    try:
        while not done.wait(0.005):
            tries += 1
            try:
                writer.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                continue
            writer.execute("ROLLBACK")
            got += 1
    finally:
        worker.join()
        writer.close()
    assert tries >= 10, "the recount was too quick to tell"
    assert got >= tries // 2, (got, tries)
    if how == "rebuild-rollups":  # the presses were seeded without ingest: now counted
        assert tuple(db.row("SELECT presses_stored, highest_seq FROM device_state")) == (
            60_000, 60_000)
    assert _rollups(db) == _rebuilt(db)
