"""The `hub` command line: what an administrator types, and the one-line errors they get."""

import csv
import io
import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from hub.cli import cli
from hub.store import registry
from hub.store.schema import MIGRATIONS
from tests.hub.helpers import batch, press, send


def one_line_error(result, code=None):
    assert result.exit_code == (code if code is not None else result.exit_code) != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


@pytest.fixture
def ams(hub_cli):
    result = hub_cli("location", "add", "ams", "--name", "Schiphol security",
                     "--timezone", "Europe/Amsterdam", "--hours", "mon-fri 07:00-22:00")
    assert result.exit_code == 0, result.stderr
    return "ams"


def test_init_db_creates_and_is_idempotent(runner, tmp_path):
    path = tmp_path / "new.db"
    first = runner.invoke(cli, ["--db", str(path), "init-db"])
    assert first.exit_code == 0 and f"schema version {len(MIGRATIONS)}" in first.stdout
    again = runner.invoke(cli, ["--db", str(path), "init-db"])
    assert again.exit_code == 0 and "already up to date" in again.stdout


def test_the_database_comes_from_the_environment(runner, tmp_path):
    path = tmp_path / "env.db"
    assert runner.invoke(cli, ["init-db"], env={"HUB_DATABASE": str(path)}).exit_code == 0
    assert path.is_file()


def test_a_missing_database_is_a_one_line_error(runner, tmp_path):
    result = runner.invoke(cli, ["--db", str(tmp_path / "none.db"), "device", "list"])
    assert "hub init-db" in one_line_error(result, 1)


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--name", "X", "--timezone", "Europe/Amsterdm"], "--timezone"),
        (["--name", "X", "--timezone", "../../etc/passwd"], "--timezone"),
        (["--name", "X", "--timezone", "UTC", "--hours", "mon 7-22"], "--hours"),
        (["--timezone", "UTC"], "--name"),
    ],
)
def test_location_add_checks_its_arguments(hub_cli, args, mentions):
    assert mentions in one_line_error(hub_cli("location", "add", "x", *args), 2)


def test_location_add_refuses_a_bad_slug_and_a_duplicate(hub_cli, ams):
    one_line_error(hub_cli("location", "add", "Bad Slug", "--name", "X", "--timezone", "UTC"), 2)
    result = hub_cli("location", "add", "ams", "--name", "X", "--timezone", "UTC")
    assert "already exists" in one_line_error(result, 1)
    listed = json.loads(hub_cli("location", "list", "--json").stdout)
    assert listed == [{"slug": "ams", "name": "Schiphol security",
                       "timezone": "Europe/Amsterdam", "opening_hours": "mon-fri 07:00-22:00",
                       "location_group": None}]


def test_device_add_prints_the_token_alone_and_it_works(hub_cli, ams, client):
    result = hub_cli("device", "add", "ams-security-03", "--location", "ams")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and len(token) >= 43
    response = send(client, {"Authorization": f"Bearer {token}"}, [press(1)],
                    device_id="ams-security-03")
    assert response.json["inserted"] == 1 and response.json["duplicates"] == 0
    (device,) = json.loads(hub_cli("device", "list", "--json").stdout)
    assert device["device_id"] == "ams-security-03" and device["location"] == "ams"
    assert device["last_seen_at"] == "2026-11-22T12:00:00.000Z"
    assert (device["highest_seq"], device["held_through"], device["card"]) == (1, 1, None)


def test_device_list_shows_the_card_and_a_card_change(hub_cli, ams, client):
    token = hub_cli("device", "add", "k", "--location", "ams").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    for card in ("0a1b2c3d-old", "9f8e7d6c-new"):  # each card's own press 1
        client.post("/api/v1/presses", headers=headers, json=batch(
            [press(1) | {"id": str(uuid.uuid4())}], device_id="k") | {"buffer_id": card})
    (device,) = json.loads(hub_cli("device", "list", "--json").stdout)
    assert (device["card"], device["cards"], device["seq_conflicts"]) == ("9f8e7d6c-new", 2, 1)
    assert "card 9f8e7d6c (2 cards)" in hub_cli("device", "list").stdout


def test_device_list_as_csv_is_the_fleet_inventory(hub_cli, ams, client):
    """`hub device list --format csv`: device, location, version, last seen, queue, clock,
    card (and revoked_at), a header line and one row per kiosk, as a spreadsheet reads it."""
    token = hub_cli("device", "add", "ams-security-03", "--location", "ams").stdout.strip()
    hub_cli("device", "add", "ams-security-04", "--location", "ams")
    client.post("/api/v1/heartbeat", headers={"Authorization": f"Bearer {token}"}, json={
        "device_id": "ams-security-03", "boot_id": "b", "uptime_ms": 1000,
        "sent_at": "2026-11-22T11:59:59Z", "queued": 4, "clock_synced": False,
        "version": "0.2.0", "buffer_id": "c0ffee00-card"})
    result = hub_cli("device", "list", "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["device", "location", "version", "last_seen", "queue", "clock",
                             "card", "revoked_at"]
    assert rows[0] == {"device": "ams-security-03", "location": "ams", "version": "0.2.0",
                       "last_seen": "2026-11-22T12:00:00.000Z", "queue": "4",
                       "clock": "not synced", "card": "c0ffee00-card", "revoked_at": ""}
    assert rows[1]["device"] == "ams-security-04" and rows[1]["last_seen"] == ""


def test_device_errors(hub_cli, ams):
    assert "no location" in one_line_error(hub_cli("device", "add", "k", "--location", "x"), 1)
    one_line_error(hub_cli("device", "add", "-k", "--location", "ams"), 2)
    hub_cli("device", "add", "k", "--location", "ams")
    assert "already exists" in one_line_error(hub_cli("device", "add", "k", "--location", "ams"))
    assert "no device" in one_line_error(hub_cli("device", "revoke", "nope"), 1)
    assert "no device" in one_line_error(hub_cli("device", "move", "nope", "--location", "ams"))


def test_device_move_and_revoke(hub_cli, ams, client, db):
    hub_cli("location", "add", "kol", "--name", "K", "--timezone", "Asia/Kolkata")
    token = hub_cli("device", "add", "k", "--location", "ams").stdout.strip()
    assert hub_cli("device", "move", "k", "--location", "kol").exit_code == 0
    assert "k\tkol\tactive" in hub_cli("device", "list").stdout
    assert db.row("SELECT count(*) FROM device_locations WHERE device_id = 'k'")[0] == 2
    assert hub_cli("device", "revoke", "k").exit_code == 0
    response = send(client, {"Authorization": f"Bearer {token}"}, [press(1)], device_id="k")
    assert response.status_code == 401
    assert "revoked" in hub_cli("device", "list").stdout


def test_device_rotate_token_keeps_the_device_and_refuses_the_old_token(hub_cli, ams, client):
    """A lost card: the new token, alone on stdout, works at once; the old one is a 401 at
    once, for presses and heartbeats; id, location and numbering are the device's as before."""
    hub_cli("location", "add", "kol", "--name", "K", "--timezone", "Asia/Kolkata")
    old = hub_cli("device", "add", "k", "--location", "ams").stdout.strip()
    hub_cli("device", "move", "k", "--location", "kol")
    sent = send(client, {"Authorization": f"Bearer {old}"}, [press(1), press(2)], device_id="k")
    assert sent.json["highest_seq"] == 2
    result = hub_cli("device", "rotate-token", "k")
    assert result.exit_code == 0, result.stderr
    new = result.stdout.strip()
    assert result.stdout == new + "\n" and len(new) >= 43 and new != old
    refused = send(client, {"Authorization": f"Bearer {old}"}, [press(3)], device_id="k")
    assert refused.status_code == 401
    beat = {"device_id": "k", "boot_id": "b", "uptime_ms": 1,
            "sent_at": "2026-11-22T12:00:00.000Z"}
    assert client.post("/api/v1/heartbeat", json=beat,
                       headers={"Authorization": f"Bearer {old}"}).status_code == 401
    accepted = send(client, {"Authorization": f"Bearer {new}"}, [press(2), press(3)],
                    device_id="k")
    assert accepted.status_code == 200, accepted.json
    assert (accepted.json["inserted"], accepted.json["duplicates"]) == (1, 1)
    assert accepted.json["highest_seq"] == 3  # numbering goes on where it was
    (device,) = json.loads(hub_cli("device", "list", "--json").stdout)
    assert (device["device_id"], device["location"], device["revoked_at"]) == ("k", "kol", None)


def test_device_rotate_token_brings_back_a_revoked_device(hub_cli, ams, client):
    old = hub_cli("device", "add", "k", "--location", "ams").stdout.strip()
    hub_cli("device", "revoke", "k")
    new = hub_cli("device", "rotate-token", "k").stdout.strip()
    assert send(client, {"Authorization": f"Bearer {old}"}, [press(1)],
                device_id="k").status_code == 401
    assert send(client, {"Authorization": f"Bearer {new}"}, [press(1)],
                device_id="k").status_code == 200
    assert "k\tams\tactive" in hub_cli("device", "list").stdout
    assert "no device" in one_line_error(hub_cli("device", "rotate-token", "nope"), 1)


def test_users_and_api_tokens(hub_cli, ams, client, db):
    result = hub_cli("user", "add", "alice", "--admin", "--password-stdin",
                     input="a long password\n")
    assert result.exit_code == 0, result.stderr
    assert hub_cli("user", "add", "bob", input="another password\nanother password\n"
                   ).exit_code == 0
    assert dict(db.rows("SELECT username, role FROM users")) == {"alice": "admin",
                                                                 "bob": "viewer"}
    token = hub_cli("api-token", "add", "alice").stdout
    assert token.count("\n") == 1
    response = client.get("/api/v1/locations",
                          headers={"Authorization": f"Bearer {token.strip()}"})
    assert [loc["slug"] for loc in response.json] == ["ams"]


def test_user_errors(hub_cli):
    assert "8 characters" in one_line_error(
        hub_cli("user", "add", "carol", "--password-stdin", input="short\n"), 1)
    hub_cli("user", "add", "carol", "--password-stdin", input="long enough\n")
    assert "already exists" in one_line_error(
        hub_cli("user", "add", "carol", "--password-stdin", input="long enough\n"))
    assert "no user" in one_line_error(hub_cli("api-token", "add", "dave"), 1)


def test_export_writes_presses_as_csv_or_json(hub_cli, ams, client):
    token = hub_cli("device", "add", "k", "--location", "ams").stdout.strip()
    send(client, {"Authorization": f"Bearer {token}"},
         [press(1, mood=2), press(2, misuse=True)], device_id="k")
    args = ["export", "--location", "ams", "--from", "2026-11-22", "--to", "2026-11-22"]
    lines = hub_cli(*args).stdout.splitlines()
    assert len(lines) == 2 and lines[1].split(",")[:5] == [
        "00000000-0000-4000-8000-000000000001", "k", "ams", "1", "2"]
    rows = json.loads(hub_cli(*args, "--format", "json", "--include-misuse").stdout)
    assert [(r["seq"], r["misuse"], r["time_source"]) for r in rows] == [
        (1, False, "device"), (2, True, "device")]


def test_export_gives_the_location_pages_tables_as_their_csv_buttons(hub_cli, ams, client,
                                                                      app, db):
    from tests.pages.conftest import PASSWORD, log_in

    registry.add_user(db, "ada", PASSWORD, "viewer", "2026-01-01T00:00:00.000Z")
    admin_session = app.test_client()
    assert log_in(admin_session, "ada").status_code == 302
    token = hub_cli("device", "add", "k", "--location", "ams").stdout.strip()
    send(client, {"Authorization": f"Bearer {token}"}, [press(1, mood=2), press(2, mood=4)],
         device_id="k")
    dates = ["--from", "2026-11-16", "--to", "2026-11-22"]
    for table in ("hours", "daily", "heatmap", "moods", "devices", "alerts"):
        exported = hub_cli("export", "--location", "ams", *dates, "--table", table).stdout
        page = admin_session.get(f"/locations/ams?period=custom&from=2026-11-16&to=2026-11-22"
                                 f"&day=2026-11-22&table={table}&format=csv")
        if table == "hours":  # the page's hours are those of one day; the export, of all
            assert exported.splitlines()[1:] == page.get_data(as_text=True).splitlines()[1:]
        elif table == "devices":  # last seen is shown relative to now: compare the columns
            assert exported.splitlines()[0] == page.get_data(as_text=True).splitlines()[0]
            assert exported.splitlines()[1].startswith("k,")
        else:
            assert exported.splitlines() == page.get_data(as_text=True).splitlines(), table
    daily = json.loads(hub_cli("export", "--location", "ams", *dates, "--table", "daily",
                               "--format", "json").stdout)
    assert daily[-1]["date"] == "2026-11-22" and daily[-1]["total"] == 2


def test_export_errors(hub_cli, ams):
    one_line_error(hub_cli("export", "--location", "ams", "--from", "2026-13-01", "--to",
                           "2026-12-01"), 2)
    assert "years 1900-9998" in one_line_error(
        hub_cli("export", "--location", "ams", "--from", "9999-12-31", "--to", "9999-12-31"), 2)
    result = hub_cli("export", "--location", "nowhere", "--from", "2026-11-01", "--to",
                     "2026-11-02")
    assert "no location" in one_line_error(result, 1)


def test_rebuild_rollups_gives_back_what_ingest_kept(hub_cli, ams, client, db):
    token = hub_cli("device", "add", "k", "--location", "ams").stdout.strip()
    send(client, {"Authorization": f"Bearer {token}"},
         [press(n, mood=1 + n % 4) for n in range(1, 20)], device_id="k")
    before = [tuple(r) for r in db.rows("SELECT * FROM rollups ORDER BY 1, 2")]
    db.execute("DELETE FROM rollups")
    result = hub_cli("rebuild-rollups")
    assert result.stdout == "rebuilt 1 hourly rollups from 19 presses\n"
    assert [tuple(r) for r in db.rows("SELECT * FROM rollups ORDER BY 1, 2")] == before


def test_backup_into_a_directory_keeps_the_newest(hub_cli, ams, tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    for stamp in ("20240101T000000Z", "20250101T000000Z", "20260101T000000Z"):
        (backups / f"hub-{stamp}.db").write_bytes(b"old")
    (backups / "notes.txt").write_text("not a backup")
    result = hub_cli("backup", str(backups), "--keep", "2")
    assert result.exit_code == 0, result.stderr
    written = result.stdout.strip()
    names = sorted(p.name for p in backups.iterdir())
    assert names == ["hub-20260101T000000Z.db", written.rsplit("/", 1)[1], "notes.txt"]
    copy = sqlite3.connect(written)
    assert copy.execute("SELECT slug FROM locations").fetchall() == [("ams",)]
    copy.close()


def test_backup_to_a_file_and_into_a_new_directory(hub_cli, ams, tmp_path):
    assert hub_cli("backup", str(tmp_path / "copy.db")).stdout.strip().endswith("copy.db")
    assert (tmp_path / "copy.db").is_file()
    result = hub_cli("backup", str(tmp_path / "new" / "dir"), "--keep", "14")
    assert result.exit_code == 0 and "/new/dir/hub-" in result.stdout
    assert "--keep" in one_line_error(hub_cli("backup", str(tmp_path / "c.db"), "--keep", "2"))


@pytest.mark.parametrize("form", ["absolute", "relative", "symlink", "hard link", "-wal", "-shm"])
def test_backup_onto_the_live_database_is_refused_and_changes_nothing(
        hub_cli, ams, db_path, tmp_path, monkeypatch, request, form):
    monkeypatch.chdir(tmp_path)
    hub = sqlite3.connect(db_path)  # the database open, as by a running hub: -wal and -shm
    hub.execute("SELECT count(*) FROM locations").fetchone()
    request.addfinalizer(hub.close)
    assert (tmp_path / "hub.db-wal").exists() and (tmp_path / "hub.db-shm").exists()
    dest = {"absolute": str(db_path), "relative": "sub/../hub.db", "symlink": "link.db",
            "hard link": "linked.db", "-wal": "hub.db-wal", "-shm": "hub.db-shm"}[form]
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(db_path)
    (tmp_path / "linked.db").hardlink_to(db_path)
    before = sorted(p.name for p in tmp_path.iterdir()), db_path.stat().st_ino
    result = hub_cli("backup", dest)
    assert "live database" in one_line_error(result, 2) and dest in result.stderr
    assert (sorted(p.name for p in tmp_path.iterdir()), db_path.stat().st_ino) == before
    assert hub_cli("location", "list").stdout.split()[0] == "ams"


def test_backup_never_replaces_an_sqlite_file_in_use(hub_cli, ams, tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)  # another program's database, open in WAL mode
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    try:
        assert "in use" in one_line_error(hub_cli("backup", str(other)), 2)
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        conn.close()  # its last connection: SQLite removes the -wal and -shm
    assert hub_cli("backup", str(other)).exit_code == 0  # an old copy, not open: replaced
    copy = sqlite3.connect(other)
    assert copy.execute("SELECT slug FROM locations").fetchall() == [("ams",)]
    copy.close()


def test_backup_into_the_live_databases_directory_keeps_the_live_database(runner, tmp_path):
    # A database whose name looks like a backup, in the backup directory: never pruned.
    live = tmp_path / "hub-20200101T000000Z.db"
    assert runner.invoke(cli, ["--db", str(live), "init-db"]).exit_code == 0
    for _ in range(2):
        result = runner.invoke(cli, ["--db", str(live), "backup", str(tmp_path), "--keep", "1"])
        assert result.exit_code == 0, result.stderr
    assert live.is_file() and Path(result.stdout.strip()).is_file()
    assert runner.invoke(cli, ["--db", str(live), "location", "list"]).exit_code == 0


def test_demo_refuses_to_wipe_a_directory_that_is_not_a_demo(runner, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = runner.invoke(cli, ["demo", "--dir", str(tmp_path), "--seed-only", "--days", "1"])
    assert "is not a demo directory" in one_line_error(result, 1)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_demo_seed_only_makes_a_database_the_hub_can_serve(runner, tmp_path):
    demo_dir = tmp_path / "demo"
    result = runner.invoke(cli, ["demo", "--dir", str(demo_dir), "--seed-only", "--days", "2"])
    assert result.exit_code == 0, result.stderr
    assert "login demo / " in result.stdout
    listed = runner.invoke(cli, ["--db", str(demo_dir / "hub.db"), "location", "list"])
    assert {"ams-security", "blr-library", "yyt-clinic"} <= set(listed.stdout.split())
    again = runner.invoke(cli, ["demo", "--dir", str(demo_dir), "--seed-only", "--days", "1"])
    assert again.exit_code == 0, again.stderr  # a demo directory is made anew


def _commands(group, path=()):
    """Every group and command under *group*, as argument lists."""
    yield list(path)
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


def test_the_command_tree_is_what_the_docs_list():
    names = {" ".join(path) for path in _commands(cli)}
    assert {"init-db", "location add", "device add", "device move", "device revoke",
            "device rotate-token", "device list", "user add", "api-token add", "serve",
            "export", "rebuild-rollups", "backup", "demo", "alerts run"} <= names


@pytest.mark.parametrize("command", list(_commands(cli)), ids=" ".join)
def test_every_command_has_help_with_an_example(runner, command):
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
