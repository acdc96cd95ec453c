"""The press buffer: durable, seq never reused, bounded without losing unsynced presses."""

import logging
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.store import SEQ_BLOCK, PressBuffer, StoreError
from tests.kiosk.helpers import BOOT, press


@pytest.fixture
def buffer(tmp_path):
    buffer = PressBuffer(tmp_path / "data", device_id="kiosk-test-1")
    yield buffer
    buffer.close()


def record(buffer, count, start=0):
    return [buffer.record(press(start + i, mood=1 + i % 4)) for i in range(count)]


def test_pragmas_and_file_place(tmp_path, buffer):
    assert buffer.path == tmp_path / "data" / "buffer.db"
    pragma = buffer.conn.execute
    assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert pragma("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert pragma("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_a_press_in_wire_format(buffer):
    assert buffer.record(press(0, mood=4, misuse=True)) == 1
    (row,) = buffer.pending(10)
    assert row.pop("id")[14] == "4"  # a UUID4
    assert row == {"seq": 1, "mood": 4, "pressed_at": "2026-11-22T10:15:03.120Z",
                   "boot_id": BOOT, "uptime_ms": 10_000, "clock_synced": True, "misuse": True}


def test_committed_press_is_visible_to_another_connection(buffer):
    buffer.record(press())
    other = PressBuffer(buffer.path, readonly=True)
    assert [p["seq"] for p in other.pending(10)] == [1]
    other.close()


def test_pending_sync_park_and_prune(buffer):
    record(buffer, 6)
    assert [p["seq"] for p in buffer.pending(3)] == [1, 2, 3]
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    buffer.mark_synced([1, 2], synced_at=long_ago)
    buffer.mark_synced([3])
    buffer.park(4, "HTTP 400 invalid_field: presses[0].mood")
    assert [p["seq"] for p in buffer.pending(10)] == [5, 6]
    assert [(p["seq"], p["reason"]) for p in buffer.parked()] == [
        (4, "HTTP 400 invalid_field: presses[0].mood")]
    assert buffer.prune_synced(long_ago + timedelta(days=1)) == 2  # 3 synced just now: kept
    assert buffer.prune_synced(datetime.now(UTC) + timedelta(days=1)) == 1
    assert [p["seq"] for p in buffer.pending(10)] == [5, 6] and len(buffer.parked()) == 1
    status = buffer.status()
    assert (status["queued"], status["parked"], status["recorded_total"]) == (2, 1, 6)
    assert status["oldest_queued_at"] == "2026-11-22T10:15:07.120Z"


def test_a_clock_skew_of_an_earlier_boot_is_not_shown(buffer):
    from kiosk import clock

    buffer.set_meta("clock_skew_s", 95.0)
    buffer.set_meta("clock_skew_boot_id", clock.boot_id())
    assert buffer.status()["clock_skew_s"] == 95.0
    buffer.set_meta("clock_skew_boot_id", "an-earlier-boot")
    assert buffer.status()["clock_skew_s"] is None  # the clock started over since


def test_meta_values_are_json(buffer):
    assert buffer.get_meta("last_sync_error", "none") == "none"
    buffer.set_meta("clock_skew_s", -12.5)
    buffer.set_meta("last_sync_error", None)
    assert buffer.get_meta("clock_skew_s") == -12.5
    assert buffer.get_meta("last_sync_error", "x") is None


def test_status_keys(buffer):
    record(buffer, 2)
    buffer.set_meta("last_sync_at", "2026-11-22T10:20:00.000Z")
    status = buffer.status()
    assert {"device_id", "recorded_total", "queued", "oldest_queued_at", "last_sync_at",
            "last_sync_error", "clock_synced", "boot_id", "parked", "buffer_full",
            "clock_skew_s"} <= set(status)
    assert status["device_id"] == "kiosk-test-1" and status["recorded_total"] == 2
    assert status["last_sync_at"] == "2026-11-22T10:20:00.000Z"
    assert isinstance(status["clock_synced"], bool) and status["buffer_full"] is False


def test_seq_is_never_reused_after_pruning_everything(buffer):
    record(buffer, 5)
    buffer.mark_synced([1, 2, 3, 4, 5], synced_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert buffer.prune_synced(datetime.now(UTC)) == 5
    buffer.close()
    reopened = PressBuffer(buffer.path)
    assert reopened.record(press()) == 6
    reopened.close()


def test_seq_continues_above_everything_handed_out_when_the_file_is_lost(tmp_path, buffer):
    record(buffer, 7)
    buffer.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / "data" / f"buffer.db{suffix}").unlink(missing_ok=True)
    fresh = PressBuffer(tmp_path / "data")
    seq = fresh.record(press())
    assert 7 < seq <= 7 + SEQ_BLOCK
    assert fresh.status()["recorded_total"] == seq
    fresh.close()
    again = PressBuffer(tmp_path / "data")  # a restart after that continues without a gap
    assert again.record(press()) == seq + 1
    again.close()


def test_an_empty_new_buffer_keeps_its_floor_across_a_restart(tmp_path, buffer):
    record(buffer, 3)
    buffer.close()
    (tmp_path / "data" / "buffer.db").unlink()
    PressBuffer(tmp_path / "data").close()  # created, killed before any press
    later = PressBuffer(tmp_path / "data")
    assert later.record(press()) > 3
    later.close()


def test_seq_block_is_reserved_before_it_is_used(tmp_path, buffer):
    seq_file = tmp_path / "data" / "seq-reserved"
    record(buffer, 1)
    assert int(seq_file.read_text()) == SEQ_BLOCK
    buffer._reserved = 0  # as if the block ran out: the next press reserves a new one
    buffer.record(press())
    assert int(seq_file.read_text()) == 2 + SEQ_BLOCK - 1


@pytest.mark.parametrize("damage", ["garbage", "torn"])
def test_a_corrupt_file_is_moved_aside_and_seq_continues(tmp_path, buffer, caplog, damage):
    record(buffer, 300)
    buffer.close()
    path = tmp_path / "data" / "buffer.db"
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data[:100] = b"x" * 100  # the header: not a database any more
    else:
        data[4096 * 2:4096 * 4] = b"\xff" * 8192  # pages in the middle: malformed
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt"):
        PressBuffer(tmp_path / "data")  # only the daemon's writer recovers
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        fresh = PressBuffer(tmp_path / "data", recover=True)
    assert "is corrupt; moved aside to buffer.db.corrupt-" in caplog.text
    aside = list((tmp_path / "data").glob("buffer.db.corrupt-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))]
    assert bytes(data) in [p.read_bytes() for p in aside]  # kept, not deleted
    assert fresh.record(press()) > 300
    fresh.close()


def test_unwritable_data_dir_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="cannot create"):
        PressBuffer(tmp_path / "file" / "data")


def test_disk_full_is_a_store_error_and_nothing_is_half_written(buffer):
    record(buffer, 1)
    pages = buffer.conn.execute("PRAGMA page_count").fetchone()[0]
    buffer.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="full"):
        record(buffer, 200, start=1)
    stored = buffer.status()["recorded_total"]
    buffer.conn.execute("PRAGMA max_page_count = 1000000")
    assert buffer.record(press()) == stored + 1  # the failed press took no seq


def test_bounded_buffer_drops_oldest_synced_first(tmp_path, caplog):
    buffer = PressBuffer(tmp_path, max_presses=5)
    record(buffer, 5)
    buffer.mark_synced([1, 2, 3])
    record(buffer, 2, start=5)
    seqs = [r[0] for r in buffer.conn.execute("SELECT seq FROM presses ORDER BY seq")]
    assert seqs == [3, 4, 5, 6, 7]
    with caplog.at_level(logging.WARNING, logger="kiosk.store"):
        record(buffer, 3, start=7)  # only unsynced left: kept anyway, and reported
    seqs = [r[0] for r in buffer.conn.execute("SELECT seq FROM presses ORDER BY seq")]
    assert seqs == [4, 5, 6, 7, 8, 9, 10]
    assert buffer.status()["buffer_full"] is True
    assert caplog.text.count("press buffer full") == 1
    buffer.close()


def test_a_buffer_over_a_connection(tmp_path):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    buffer = PressBuffer(conn)
    assert buffer.record(press()) == 1 and buffer.pending(1)[0]["seq"] == 1


def test_status_of_a_missing_buffer(tmp_path):
    with pytest.raises(StoreError, match="no press buffer"):
        PressBuffer(tmp_path / "nothing", readonly=True)


def test_status_of_a_buffer_the_daemon_is_still_creating(tmp_path):
    (tmp_path / "buffer.db").touch()  # the file exists, its tables do not yet
    with pytest.raises(StoreError, match="cannot read"):
        PressBuffer(tmp_path, readonly=True)


def test_a_data_dir_with_a_dot_is_a_directory(tmp_path):
    buffer = PressBuffer(tmp_path / "kiosk.d")
    assert buffer.path == tmp_path / "kiosk.d" / "buffer.db"
    buffer.close()
    explicit = PressBuffer(tmp_path / "elsewhere.db")  # a database file name is a file
    assert explicit.path == tmp_path / "elsewhere.db"
    explicit.close()


def test_a_file_given_by_mistake_is_never_touched(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('device_id = "x"\n')
    with pytest.raises(StoreError, match="cannot create"):
        PressBuffer(config, recover=True)
    assert config.read_text() == 'device_id = "x"\n' and list(tmp_path.iterdir()) == [config]


def corrupt_an_index(path):
    """Point the queued-presses index at another b-tree, as a damaged page would: the next
    insert finds a malformed database (SQLITE_CORRUPT), and quick_check agrees."""
    conn = sqlite3.connect(path, isolation_level=None)
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET rootpage = (SELECT rootpage FROM sqlite_master "
                 "WHERE name = 'meta') WHERE name = 'presses_queued'")
    conn.execute(f"PRAGMA schema_version = {version + 1}")
    conn.close()


def test_corruption_found_while_writing_is_flagged(buffer):
    record(buffer, 3)
    corrupt_an_index(buffer.path)
    with pytest.raises(StoreError, match="malformed") as caught:
        buffer.record(press(3))
    assert caught.value.corrupt is True


def test_a_failed_commit_leaves_no_transaction_open(buffer):
    # A COMMIT can fail (disk full or an I/O error while the WAL is written); SQLite may
    # leave the transaction open, and every later BEGIN would then fail. A deferred foreign
    # key makes the COMMIT itself fail here.
    buffer.conn.execute("PRAGMA foreign_keys = ON")
    buffer.conn.execute("CREATE TABLE probe (x REFERENCES presses (seq) "
                        "DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), buffer.transaction():
        buffer.conn.execute("INSERT INTO probe VALUES (42)")
    assert not buffer.conn.in_transaction
    assert buffer.record(press()) == 1


def test_a_press_whose_commit_landed_despite_an_error_is_not_stored_twice(buffer):
    from dataclasses import replace

    record(buffer, 2)
    retried = replace(press(2), id="6f1c2f1e-3c1b-4d6e-9a39-5b2a1d7c8e90")
    buffer.record(retried)
    buffer._unsure = True  # as after an error reported once the COMMIT had reached the disk
    buffer._last_seq -= 1
    assert buffer.record(retried) == 3  # found, not inserted again as seq 4
    assert buffer.record(press(3)) == 4
    assert [p["id"] for p in buffer.pending(10)].count(retried.id) == 1


def test_a_full_buffer_of_unsynced_presses_deletes_once_sync_catches_up(tmp_path, caplog):
    buffer = PressBuffer(tmp_path, max_presses=4)
    with caplog.at_level(logging.INFO, logger="kiosk.store"):
        record(buffer, 6)
        assert buffer.status()["buffer_full"] is True
        buffer.mark_synced([1, 2, 3])
        record(buffer, 1, start=6)
    seqs = [r[0] for r in buffer.conn.execute("SELECT seq FROM presses ORDER BY seq")]
    assert seqs == [4, 5, 6, 7]  # synced 1-3 went, no unsynced press did
    assert "press buffer no longer full" in caplog.text
    buffer.close()


def test_renumbered_presses_keep_their_ids_and_the_writer_numbers_on_above(tmp_path, buffer):
    """The sync thread renumbers (its own PressBuffer on the file) while the writer records:
    no seq is handed out twice, and the reserved mark covers the new seqs."""
    record(buffer, 10)
    ids = {row[0]: row[1] for row in buffer.conn.execute("SELECT seq, id FROM presses")}
    sync_side = PressBuffer(tmp_path / "data", device_id="kiosk-test-1")
    try:
        buffer.mark_synced([1, 2])
        mapping = sync_side.renumber([1, 2, 3, 4, 5], above=500)
    finally:
        sync_side.close()
    assert mapping == {3: 501, 4: 502, 5: 503}  # 1 and 2 were accepted: never renumbered
    moved = {row[0]: row[1] for row in buffer.conn.execute("SELECT seq, id FROM presses")}
    assert [moved[new] for new in (501, 502, 503)] == [ids[3], ids[4], ids[5]]
    assert buffer.record(press()) == 504
    assert buffer.recorded_total() == 504
    assert int((tmp_path / "data" / "seq-reserved").read_text()) >= 504


def test_each_buffer_has_its_own_id_kept_across_restarts(tmp_path):
    first = PressBuffer(tmp_path / "a")
    other = PressBuffer(tmp_path / "b")
    try:
        assert first.get_meta("buffer_id") != other.get_meta("buffer_id")
        name = first.get_meta("buffer_id")
    finally:
        first.close()
        other.close()
    again = PressBuffer(tmp_path / "a")
    try:
        assert again.get_meta("buffer_id") == name
        assert again.status()["buffer_id"] == name
    finally:
        again.close()
