"""The press buffer: the kiosk's only SQL, one SQLite file in data_dir.

`PressBuffer(path_or_conn)` takes data_dir (the file is data_dir/buffer.db), a database file
path, or an open sqlite3 connection (tests, :memory:). One thread writes presses (`record`);
the sync thread and `kiosk status` open their own PressBuffer on the same file (WAL: readers
never block the writer).

seq is never reused (docs/decisions.md, "Kiosk"): AUTOINCREMENT keeps the high-water mark in
the file across deletes, and a sidecar file (`seq-reserved`) holds a block of seqs reserved
ahead, written atomically before any seq of the block is handed out; a buffer that had to be
started afresh (file lost or corrupt) continues above that mark.
"""

import json
import logging
import os
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kiosk import clock

log = logging.getLogger(__name__)

DB_NAME = "buffer.db"
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")
SEQ_FILE = "seq-reserved"
SEQ_BLOCK = 1000  # seqs reserved per sidecar write (the gap left after losing the file)
BUSY_TIMEOUT_MS = 5000
PRUNE_CHUNK = 10_000  # rows per delete transaction, so the writer never waits long
_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes of the extended ones)

SCHEMA = """
CREATE TABLE IF NOT EXISTS presses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    mood INTEGER NOT NULL CHECK (mood BETWEEN 1 AND 4),
    pressed_at TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    uptime_ms INTEGER NOT NULL,
    clock_synced INTEGER NOT NULL,
    misuse INTEGER NOT NULL,
    synced_at TEXT,
    parked_reason TEXT
);
CREATE INDEX IF NOT EXISTS presses_queued ON presses (seq)
    WHERE synced_at IS NULL AND parked_reason IS NULL;
CREATE INDEX IF NOT EXISTS presses_parked ON presses (seq) WHERE parked_reason IS NOT NULL;
CREATE INDEX IF NOT EXISTS presses_synced ON presses (seq) WHERE synced_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
INSERT = ("INSERT INTO presses (seq, id, mood, pressed_at, boot_id, uptime_ms, clock_synced, "
          "misuse) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
PENDING = ("SELECT seq, id, mood, pressed_at, boot_id, uptime_ms, clock_synced, misuse "
           "FROM presses WHERE synced_at IS NULL AND parked_reason IS NULL ORDER BY seq LIMIT ?")
PARKED = ("SELECT seq, id, mood, pressed_at, boot_id, uptime_ms, clock_synced, misuse, "
          "parked_reason FROM presses WHERE parked_reason IS NOT NULL ORDER BY seq")
LATEST = ("SELECT seq, id, mood, pressed_at, boot_id, uptime_ms, clock_synced, misuse "
          "FROM presses ORDER BY seq DESC LIMIT 1")
OLDEST_SYNCED = ("SELECT seq FROM presses WHERE synced_at IS NOT NULL ORDER BY seq "
                 "LIMIT ?")
DELETE_OLDEST_SYNCED = f"DELETE FROM presses WHERE seq IN ({OLDEST_SYNCED})"  # noqa: S608
QUEUED_COUNT = "SELECT count(*) FROM presses WHERE synced_at IS NULL AND parked_reason IS NULL"
HIGH_WATER = "SELECT seq FROM sqlite_sequence WHERE name = 'presses'"
HIGHEST_SYNCED = "SELECT max(seq) FROM presses WHERE synced_at IS NOT NULL"
OLDEST_QUEUED = ("SELECT pressed_at FROM presses WHERE synced_at IS NULL AND parked_reason "
                 "IS NULL ORDER BY seq LIMIT 1")


class StoreError(Exception):
    """The buffer cannot be opened or written (unwritable data_dir, disk full…).

    `corrupt` is true when SQLite found the file damaged: only setting it aside helps;
    `missing` when a read-only open found no buffer (the daemon has not run yet).
    """

    def __init__(self, message, corrupt=False, missing=False):
        super().__init__(message)
        self.corrupt, self.missing = corrupt, missing


@dataclass(frozen=True)
class Press:
    """A press as the button callback stamped it, before it has a seq."""

    mood: int
    pressed_at: datetime
    uptime_ms: int
    boot_id: str
    clock_synced: bool
    misuse: bool = False
    id: str | None = None  # UUID4; given once, so a retried press keeps its id


class PressBuffer:
    """The SQLite press buffer. Not thread-safe: one thread uses one PressBuffer.

    recover: move a corrupt file aside and start afresh (the daemon's writer does this).
    readonly: open an existing buffer to read it (`kiosk status`); create nothing.
    """

    def __init__(self, path_or_conn, *, max_presses=1_000_000, device_id=None,
                 recover=False, readonly=False):
        self.max_presses = max_presses
        self.device_id = device_id
        self.full = False
        self._unsure = False  # the last record() failed: its COMMIT may have landed anyway
        self._seq_file = None
        if isinstance(path_or_conn, sqlite3.Connection):
            self.path = None
            self.conn = path_or_conn
            self._setup(readonly)
        else:
            self.path = _db_path(path_or_conn)
            if str(self.path) != ":memory:":
                self._seq_file = self.path.with_name(SEQ_FILE) if self.path.name == DB_NAME \
                    else self.path.with_name(self.path.name + ".seq")
            self.conn = self._open(readonly, recover)
        if self.path is None:
            self._load(readonly)

    def _load(self, readonly):
        self._reserved = _read_seq_file(self._seq_file)
        self._last_seq = self.recorded_total()
        self._count = None if readonly else self._scalar("SELECT count(*) FROM presses")

    # Opening.

    def _open(self, readonly, recover):
        if readonly:
            if not self.path.exists():
                raise StoreError(f"no press buffer at {self.path} yet", missing=True)
            self.conn = _connect(f"file:{self.path}?mode=rw", uri=True)
            try:
                self._setup(readonly)
                self._load(readonly)
            except sqlite3.DatabaseError as e:  # being created right now, or corrupt
                self.conn.close()
                raise StoreError(f"cannot read {self.path}: {e}") from None
            return self.conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create {self.path.parent}: {e.strerror}") from None
        try:
            self.conn = _connect(str(self.path))
            self._setup(readonly)
            if recover:
                self._check()
            self._load(readonly)
            return self.conn
        except sqlite3.DatabaseError as e:
            if not _is_corrupt(e):
                raise StoreError(f"cannot open {self.path}: {e}") from None
            if not recover:
                raise StoreError(f"{self.path} is corrupt: {e}", corrupt=True) from None
            self.set_aside()
        self.conn = _connect(str(self.path))
        self._setup(readonly)
        self._load(readonly)
        return self.conn

    def _setup(self, readonly):
        conn = self.conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if readonly:
            return
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")  # a committed press survives a power cut
        fresh = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'presses'").fetchone() \
            is None
        with self.transaction():
            for statement in SCHEMA.split(";")[:-1]:  # not executescript: it would COMMIT
                conn.execute(statement)
            if fresh:
                floor = _read_seq_file(self._seq_file)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('seq_floor', ?)",
                             (json.dumps(floor),))
                if floor:
                    log.warning("new press buffer %s: seq continues above %d",
                                self.path, floor)
            # Names this buffer (this SD card) to the hub, which shows a new one as a card
            # change; an older buffer gets its name the first time it is opened for writing.
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('buffer_id', ?)",
                         (json.dumps(str(uuid.uuid4())),))

    def _check(self):
        rows = self.conn.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            raise _Corrupt("; ".join(r[0] for r in rows[:3]))

    def set_aside(self):
        """Close and rename a corrupt file (with its -wal/-shm) to
        `buffer.db.corrupt-<UTC stamp>`: kept for diagnosis, never deleted. Its path."""
        self.conn.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():  # twice in one second: never rename over an earlier one
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            for suffix in ("", "-wal", "-shm"):
                source = Path(str(self.path) + suffix)
                if source.exists():
                    os.replace(source, str(aside) + suffix)
        except OSError as e:
            raise StoreError(f"press buffer {self.path} is corrupt and cannot be moved aside: "
                             f"{e.strerror}", corrupt=True) from None
        log.error("press buffer %s is corrupt; moved aside to %s, starting a new buffer",
                  self.path, aside.name)
        return aside

    def transaction(self):
        """`with buffer.transaction():` BEGIN IMMEDIATE … COMMIT (ROLLBACK on error)."""
        return _Transaction(self.conn)

    # The writer's side.

    def record(self, press):
        """Store *press* durably (committed, fsynced); its seq. Raises StoreError.

        Retrying a press that failed is safe: if its COMMIT reached the disk after all (an
        error reported late), the stored seq is returned, not a second copy.
        """
        press_id = press.id or str(uuid.uuid4())
        try:
            if self._unsure:
                landed = self._landed(press_id)
                if landed:
                    return landed
            with self.transaction():
                # Read inside the write lock: the sync thread may have renumbered presses
                # above this thread's last seq (renumber()).
                seq = max(self._last_seq, self._scalar(HIGH_WATER) or 0) + 1
                if self._seq_file is not None and seq > self._reserved:
                    self._reserve(seq + SEQ_BLOCK - 1)
                self._make_room()
                self.conn.execute(
                    INSERT,
                    (seq, press_id, press.mood, _text(press.pressed_at), press.boot_id,
                     press.uptime_ms, int(press.clock_synced), int(press.misuse)))
        except (sqlite3.Error, OSError) as e:
            self._unsure = True
            corrupt = isinstance(e, sqlite3.DatabaseError) and _is_corrupt(e)
            raise StoreError(f"cannot store press: {e}", corrupt=corrupt) from None
        self._last_seq = seq
        self._count += 1
        return seq

    def _landed(self, press_id):
        """After a failure: re-read the high-water mark; the seq if *press_id* is stored."""
        self._last_seq = self.recorded_total()
        self._count = self._scalar("SELECT count(*) FROM presses")
        self._unsure = False
        row = self.conn.execute("SELECT seq FROM presses WHERE seq = ? AND id = ?",
                                (self._last_seq, press_id)).fetchone()
        return None if row is None else row[0]

    def _make_room(self):
        """Bounded buffer: delete the oldest synced rows, never unsynced ones.

        Cheap when full of unsynced presses (one lookup in the synced index, no count), and
        deletes a little ahead (0.1 % of the limit) so the count is not redone every press.
        """
        if self._count < self.max_presses:
            return
        if self.full and self._scalar(OLDEST_SYNCED, (1,)) is None:
            return  # still nothing synced to delete
        self._count = self._scalar("SELECT count(*) FROM presses")  # sync may have pruned
        excess = self._count - self.max_presses + 1
        if excess > 0:
            excess += self.max_presses // 1000
            deleted = self.conn.execute(DELETE_OLDEST_SYNCED, (excess,)).rowcount
            self._count -= deleted
        full = self._count >= self.max_presses
        if full and not self.full:
            log.warning("press buffer full: %d unsynced presses (max_buffer_presses %d); "
                        "still keeping every new press", self._count, self.max_presses)
        elif self.full and not full:
            log.info("press buffer no longer full")
        self.full = full

    def _reserve(self, upto):
        _write_atomically(self._seq_file, f"{upto}\n")
        self._reserved = upto

    # The sync client's side.

    def pending(self, limit):
        """Up to *limit* unsynced, unparked presses, oldest seq first, in wire format."""
        rows = self.conn.execute(PENDING, (limit,))
        return [_wire(row) for row in rows]

    def mark_synced(self, seqs, synced_at=None):
        """The hub has these presses (2xx)."""
        when = _text(synced_at or datetime.now(UTC))
        with self.transaction():
            self.conn.executemany("UPDATE presses SET synced_at = ? WHERE seq = ?",
                                  [(when, seq) for seq in seqs])

    def renumber(self, seqs, above):
        """Give the queued presses *seqs*, which the hub holds other presses under (another
        card of this device), new seqs above *above* and above every seq handed out here;
        {old seq: new seq}. Only presses the hub never accepted may be renumbered: the hub
        names exactly those (a seq stored there with another id is not this press)."""
        with self.transaction():
            top = max(int(above), self.recorded_total())
            mapping = {}
            for old in sorted(seqs):
                moved = self.conn.execute(
                    "UPDATE presses SET seq = ? WHERE seq = ? AND synced_at IS NULL"
                    " AND parked_reason IS NULL", (top + 1, old)).rowcount
                if moved:
                    top += 1
                    mapping[old] = top
            if mapping:
                # UPDATE does not move AUTOINCREMENT's mark; the writer reads it (record()).
                self.conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?)"
                                  " WHERE name = 'presses'", (top,))
                if self._seq_file is not None and top > _read_seq_file(self._seq_file):
                    self._reserve(top + SEQ_BLOCK - 1)
        return mapping

    def requeue_synced_above(self, seq):
        """Send again every synced press above *seq* (the hub no longer holds them all:
        restored from a backup); how many."""
        with self.transaction():
            return self.conn.execute(
                "UPDATE presses SET synced_at = NULL WHERE synced_at IS NOT NULL AND seq > ?",
                (seq,)).rowcount

    def is_synced(self, seq):
        """Is *seq* here, accepted by the hub?"""
        return self._scalar("SELECT 1 FROM presses WHERE seq = ? AND synced_at IS NOT NULL",
                            (seq,)) is not None

    def highest_synced(self):
        """The highest seq still here that the hub has accepted, or None."""
        return self._scalar(HIGHEST_SYNCED)

    def park(self, seq, reason):
        """The hub refuses this press: keep it, never send it again."""
        with self.transaction():
            self.conn.execute("UPDATE presses SET parked_reason = ? WHERE seq = ?",
                              (str(reason), seq))

    def parked(self):
        """Parked presses (wire format plus `reason`), by seq."""
        rows = self.conn.execute(PARKED)
        return [{**_wire(row[:-1]), "reason": row[-1]} for row in rows]

    def prune_synced(self, older_than):
        """Delete presses synced before *older_than*; never an unsynced one. How many."""
        cutoff, removed = _text(older_than), 0
        while True:
            with self.transaction():
                count = self.conn.execute(
                    "DELETE FROM presses WHERE seq IN (SELECT seq FROM presses WHERE synced_at "
                    "IS NOT NULL AND synced_at < ? LIMIT ?)", (cutoff, PRUNE_CHUNK)).rowcount
            removed += count
            if count < PRUNE_CHUNK:
                return removed

    def set_meta(self, key, value):
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                              (key, json.dumps(value)))

    def get_meta(self, key, default=None):
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    # Reading.

    def latest(self):
        """The press with the highest seq still in the buffer (wire format), or None."""
        row = self.conn.execute(LATEST).fetchone()
        return None if row is None else _wire(row)

    def recorded_total(self):
        """The highest seq ever handed out by this buffer (0 before the first press)."""
        stored = self._scalar("SELECT seq FROM sqlite_sequence WHERE name = 'presses'") or 0
        return max(stored, self.get_meta("seq_floor", 0) or 0)

    def status(self):
        """What `kiosk status` shows: queue, last sync, clock. One read transaction, so the
        counts agree with each other while the daemon goes on writing (a WAL snapshot)."""
        snapshot = not self.conn.in_transaction
        if snapshot:
            self.conn.execute("BEGIN")
        try:
            queued = self._scalar(QUEUED_COUNT)
            parked = self._scalar("SELECT count(*) FROM presses WHERE parked_reason IS NOT NULL")
            this_boot = clock.boot_id()
            skew = self.get_meta("clock_skew_s")
            if self.get_meta("clock_skew_boot_id") not in (None, this_boot):
                skew = None  # measured in an earlier boot: the clock has started over since
            return {
                "device_id": self.device_id,
                "recorded_total": self.recorded_total(),
                "queued": queued,
                "oldest_queued_at": self._scalar(OLDEST_QUEUED),
                "last_sync_at": self.get_meta("last_sync_at"),
                "last_sync_error": self.get_meta("last_sync_error"),
                "clock_synced": clock.clock_synced(),
                "boot_id": this_boot,
                "parked": parked,
                "buffer_full": queued + parked >= self.max_presses,
                "clock_skew_s": skew,
                "hub_auth_error": self.get_meta("hub_auth_error"),
                "buffer_id": self.get_meta("buffer_id"),
                "renumbered": self.get_meta("last_renumber"),
                "resent": self.get_meta("last_resend"),
            }
        finally:
            if snapshot:
                self.conn.execute("COMMIT")

    def _scalar(self, sql, params=()):
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def close(self):
        self.conn.close()


def status_without_buffer(device_id):
    """`PressBuffer.status()` of a kiosk that has no buffer yet: nothing recorded or queued."""
    return {
        "device_id": device_id, "recorded_total": 0, "queued": 0, "oldest_queued_at": None,
        "last_sync_at": None, "last_sync_error": None, "clock_synced": clock.clock_synced(),
        "boot_id": clock.boot_id(), "parked": 0, "buffer_full": False, "clock_skew_s": None,
        "hub_auth_error": None, "buffer_id": None, "renumbered": None, "resent": None,
    }


class _Corrupt(sqlite3.DatabaseError):
    pass


class _Transaction:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, traceback):
        if kind is None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                # A failed COMMIT (disk full, I/O error) may leave the transaction open:
                # every later BEGIN would fail. SQLite's advice is an explicit ROLLBACK.
                self._rollback()
                raise
        else:
            self._rollback()

    def _rollback(self):
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # already rolled back by SQLite: nothing left to undo


def _is_corrupt(error):
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(error, _Corrupt) or (code is not None and code & 0xFF in _CORRUPT)


def _connect(target, uri=False):
    # Autocommit mode: every transaction is explicit (BEGIN IMMEDIATE in `transaction()`).
    return sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)


def _db_path(path):
    path = Path(path)
    if str(path) == ":memory:":
        return path
    # Only a database file name is a file: a data_dir may have a dot (/srv/kiosk.d), and
    # another file given by mistake must never be opened (and then moved aside as corrupt).
    return path if path.suffix in DB_SUFFIXES and not path.is_dir() else path / DB_NAME


def _read_seq_file(path):
    if path is None:
        return 0
    try:
        return int(path.read_text().strip() or 0)
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as e:
        log.error("cannot read the seq high-water mark %s (%s); relying on the buffer", path, e)
        return 0


def _write_atomically(path, text):
    """Write, fsync, rename over, fsync the directory: the file is old or new, never torn."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _text(instant):
    return instant if isinstance(instant, str) else clock.format_utc(instant)


def _wire(row):
    seq, id_, mood, pressed_at, boot_id, uptime_ms, synced, misuse = row
    return {"seq": seq, "id": id_, "mood": mood, "pressed_at": pressed_at, "boot_id": boot_id,
            "uptime_ms": uptime_ms, "clock_synced": bool(synced), "misuse": bool(misuse)}
