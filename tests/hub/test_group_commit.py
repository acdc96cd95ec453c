"""Group commit (hub.store.writer): the writes of concurrent requests share one transaction and
one fsync; each is answered with its own outcome; a failed commit fails them all."""

import fcntl
import sqlite3
import threading

import pytest

from hub.store import Database
from hub.store.writer import LOCK_SUFFIX, GroupWriter
from tests.hub.helpers import batch, press
from tests.support import wait_until


@pytest.fixture
def writer(db_path, db):
    db.execute("CREATE TABLE notes (n INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    writer = GroupWriter(db_path)
    yield writer
    writer.close()


def note(n, text="ok"):
    def fn(db):
        db.execute("INSERT INTO notes (n, text) VALUES (?, ?)", (n, text))
        return n
    return fn


def notes(db_path):
    db = Database(db_path)
    try:
        return [tuple(row) for row in db.rows("SELECT n, text FROM notes ORDER BY n")]
    finally:
        db.close()


def in_threads(writer, fns):
    """Run writer.write(fn) for each fn in a thread of its own; [(result, error)]."""
    answers = [None] * len(fns)

    def run(i, fn):
        try:
            answers[i] = (writer.write(fn), None)
        except Exception as error:  # the write's own error, handed back to its caller
            answers[i] = (None, error)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for thread in threads:
        thread.start()
    return threads, answers


def while_another_process_writes(writer, db_path, first, rest):
    """Hold the writers' turn (as another hub worker writing would), let the writer take
    *first* and wait for the turn with it, queue *rest* behind it, then give the turn back;
    the answers of [first, *rest*] once all are done."""
    with open(str(db_path) + LOCK_SUFFIX, "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        threads, answers = in_threads(writer, [first])
        wait_until(lambda: writer.in_group == 1, timeout=10,
                   message="the writer to take the first write")
        more, later = in_threads(writer, rest)
        wait_until(lambda: writer._queue.qsize() == len(rest), timeout=10,
                   message="the other writes to queue behind the first")
        fcntl.flock(turn, fcntl.LOCK_UN)
    for thread in threads + more:
        thread.join(10)
    return answers + later


def test_writes_waiting_while_another_process_writes_go_in_one_commit(writer, db_path):
    """While another process holds the writers' turn, 10 requests queue up; the first
    waits with the turn, the 9 behind it are written together: 2 commits for 10."""
    answers = while_another_process_writes(writer, db_path, note(0),
                                           [note(n) for n in range(1, 10)])
    assert answers == [(n, None) for n in range(10)]
    assert (writer.groups, writer.writes) == (2, 10)
    assert notes(db_path) == [(n, "ok") for n in range(10)]


def test_a_write_that_fails_is_undone_alone_and_its_neighbours_are_stored(writer, db_path):
    def bad(db):
        db.execute("INSERT INTO notes (n, text) VALUES (100, 'half done')")
        raise ValueError("a batch the hub refuses")

    answers = while_another_process_writes(writer, db_path, note(9),
                                           [note(0), note(1), bad, note(2)])
    errors = [error for _, error in answers if error is not None]
    assert len(errors) == 1 and str(errors[0]) == "a batch the hub refuses"
    assert notes(db_path) == [(0, "ok"), (1, "ok"), (2, "ok"), (9, "ok")]
    assert (writer.groups, writer.writes) == (2, 5)


def test_a_commit_that_fails_fails_every_write_of_its_group(writer, db_path):
    """A deferred foreign key is only checked at COMMIT: the whole group is refused, each
    caller is told, nothing of it is stored; the next group works."""
    def breaks_the_commit(db):
        db.execute("PRAGMA defer_foreign_keys = ON")
        db.execute("INSERT INTO device_locations (device_id, location_id, since)"
                   " VALUES ('nobody', 999, '')")

    answers = while_another_process_writes(writer, db_path, note(9),
                                           [note(0), note(1), breaks_the_commit])
    assert answers[0] == (9, None)  # its own group, committed before
    assert all(isinstance(error, sqlite3.IntegrityError) for _, error in answers[1:]), answers
    assert notes(db_path) == [(9, "ok")]
    assert writer.write(note(5)) == 5 and notes(db_path) == [(5, "ok"), (9, "ok")]


def test_concurrent_batches_through_the_api_share_commits(app, client, site, db):
    """32 kiosks post at once: every batch is answered with its own counts, all presses are
    stored, in fewer commits than requests (the counters /metrics shows)."""
    site.location("ams")
    headers = {f"k-{n}": site.device(f"k-{n}", "ams") for n in range(32)}
    writer = app.extensions["hub_writer"]
    results = {}

    def post(device):
        with app.test_client() as own:
            response = own.post("/api/v1/presses", headers=headers[device],
                                json=batch([press(1), press(2), press(3)], device_id=device))
            results[device] = (response.status_code, response.get_json()["inserted"])

    with open(str(app.config["DATABASE"]) + LOCK_SUFFIX, "a") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)  # so that they are all waiting at once
        threads = [threading.Thread(target=post, args=(d,)) for d in headers]
        for thread in threads:
            thread.start()
        wait_until(lambda: writer.in_group + writer._queue.qsize() == 32, timeout=30,
                   message="the batches to queue up")
        fcntl.flock(turn, fcntl.LOCK_UN)
    for thread in threads:
        thread.join(30)
    assert results == {device: (200, 3) for device in headers}
    assert db.row("SELECT count(*) FROM presses")[0] == 96
    metrics = dict(line.split() for line in client.get("/metrics").get_data(as_text=True)
                   .splitlines() if line.startswith("hub_write_group"))
    # The writer took the first (or first few) when they came, the rest waited together.
    assert metrics["hub_write_groups_total"] in ("1", "2")
    assert metrics["hub_write_group_writes_total"] == "32"
