"""Group commit: one writer per hub process writes the batches of concurrent requests in one
transaction, with one fsync, then answers each of them.

Request threads hand a write (a function of a Database, run inside a transaction) to
`GroupWriter.write()` and wait. The writer thread takes every write that is waiting, runs
each in its own SAVEPOINT inside one BEGIN IMMEDIATE … COMMIT, then answers them all: a
write that raised is rolled back alone and gets its own exception (one bad batch never
fails its neighbours); a failing COMMIT fails every write of the group. So a 200 still means
"on disk", and no request thread sleeps in SQLite's busy handler.

Across gunicorn's worker processes the writers take turns by design: an exclusive flock on a
file beside the database, held from BEGIN to COMMIT. The kernel wakes a waiting writer the
moment the other one commits, where SQLite's busy handler would poll, sleeping up to 100 ms
a try. Writers outside the hub's serving processes (`hub` commands, the alert loop) still
meet SQLite's own lock and busy_timeout, as before.
"""

import fcntl
import logging
import os
import queue
import threading

from hub.store.database import Database
from hub.store.ingest import add_count

log = logging.getLogger(__name__)

MAX_GROUP = 256  # writes in one transaction: bounds a commit's size and the first's wait
WAIT_S = 20.0  # a request waits this long for its group, then answers 503 (and may retry)
LOCK_SUFFIX = "-writer.lock"


class WriterBusy(Exception):
    """The group writer did not answer in time (another process holds the database)."""


class _Write:
    __slots__ = ("fn", "done", "result", "error")

    def __init__(self, fn):
        self.fn = fn
        self.done = threading.Event()
        self.result = None
        self.error = None


class GroupWriter:
    """`GroupWriter(path).write(fn)` runs `fn(db)` in the next group transaction on *path*
    and returns what it returned, or raises what it raised (or the group's COMMIT error)."""

    def __init__(self, path, open_db=Database.open_existing):
        self.path = str(path)
        self._open = open_db
        self._queue = queue.SimpleQueue()
        self._start = threading.Lock()
        self._thread = None
        self._pid = None
        self.groups = 0  # transactions committed (tests and benchmarks read these)
        self.writes = 0
        self.in_group = 0  # writes of the group under way (waiting for its turn, or writing)

    def write(self, fn, timeout=WAIT_S):
        self._ensure_thread()
        job = _Write(fn)
        self._queue.put(job)
        if not job.done.wait(timeout):
            # Still queued or under way: if it lands later, a resent batch is a duplicate.
            raise WriterBusy(f"no turn to write within {timeout:g} s")
        if job.error is not None:
            raise job.error
        return job.result

    def close(self):
        """Stop the writer thread once the writes queued before are done."""
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self._queue.put(None)
            thread.join(30)
        self._thread = None

    def _ensure_thread(self):
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._start:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                if self._pid not in (None, os.getpid()):  # a forked child: its own writer
                    self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="hub-writer",
                                                daemon=True)
                self._thread.start()

    def _run(self):
        db = None
        lock_file = None
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                jobs = [first]
                while len(jobs) < MAX_GROUP:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        self._queue.put(None)  # stop after this group
                        break
                    jobs.append(job)
                self.in_group = len(jobs)
                try:
                    if db is None:
                        db = self._open(self.path)
                        lock_file = open(self.path + LOCK_SUFFIX, "a")  # noqa: SIM115
                    self._write_group(db, lock_file, jobs)
                except Exception as error:  # the group failed: each write says so
                    log.warning("group commit of %d writes failed: %s", len(jobs), error)
                    for job in jobs:
                        if job.error is None:
                            job.result, job.error = None, error
                    if db is not None and db.conn.in_transaction:
                        db.execute("ROLLBACK")
                finally:
                    self.in_group = 0
                    for job in jobs:
                        job.done.set()
        finally:
            if db is not None:
                db.close()
            if lock_file is not None:
                lock_file.close()

    def _write_group(self, db, lock_file, jobs):
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            db.execute("BEGIN IMMEDIATE")
            for job in jobs:
                db.execute("SAVEPOINT one_write")
                try:
                    job.result = job.fn(db)
                except Exception as error:  # this write alone is undone and answered
                    job.error = error
                    db.execute("ROLLBACK TO one_write")  # fails if SQLite undid them all
                db.execute("RELEASE one_write")
            # /metrics: how many requests each commit carried, over every process
            add_count(db, "write_groups", 1)
            add_count(db, "write_group_writes", len(jobs))
            db.execute("COMMIT")
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
        self.groups += 1
        self.writes += len(jobs)
