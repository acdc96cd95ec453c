"""The hub's SQLite connection: opened with the pragmas the hub relies on, explicit transactions."""

import sqlite3
from contextlib import contextmanager
from pathlib import Path

from hub.store.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 5000


class NotInitialised(Exception):
    """The database file is missing or older than this code: `hub init-db` fixes it."""


class Database:
    """A connection to the hub's database, from a path (or ":memory:") or an open connection.

    Statements run in autocommit mode; writes that belong together go in `atomic()`.
    """

    def __init__(self, path_or_conn):
        if isinstance(path_or_conn, sqlite3.Connection):
            self.conn = path_or_conn
            self.path = None
        else:
            self.path = str(path_or_conn)
            # One thread uses a connection at a time; closing it may happen on another
            # (a worker shutting down, a test tearing down the app).
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.isolation_level = None
        self.conn.row_factory = sqlite3.Row
        # WAL lets readers work while a batch is written; FULL makes a 200 mean "on disk";
        # foreign keys are off by default in SQLite and must be asked for on every connection.
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        self.conn.execute("PRAGMA foreign_keys = ON")

    @classmethod
    def open_existing(cls, path):
        """Open a database that `hub init-db` has created and migrated, or raise NotInitialised."""
        if str(path) != ":memory:" and not Path(path).is_file():
            raise NotInitialised(f"{path}: no such database; run `hub init-db` first")
        db = cls(path)
        version = db.schema_version()
        if version < len(MIGRATIONS):
            db.close()
            raise NotInitialised(
                f"{path}: schema version {version}, this hub needs {len(MIGRATIONS)}; "
                "run `hub init-db`"
            )
        return db

    def close(self):
        self.conn.close()

    def execute(self, sql, params=()):
        return self.conn.execute(sql, params)

    def executemany(self, sql, rows):
        return self.conn.executemany(sql, rows)

    def rows(self, sql, params=()):
        return self.conn.execute(sql, params).fetchall()

    def row(self, sql, params=()):
        return self.conn.execute(sql, params).fetchone()

    def pragma(self, name):
        return self.conn.execute(f"PRAGMA {name}").fetchone()[0]

    def backup(self, path):
        """Copy the whole database to *path* with SQLite's online backup (safe while in use)."""
        target = sqlite3.connect(path)
        try:
            self.conn.backup(target)
        finally:
            target.close()

    @contextmanager
    def atomic(self):
        """One write transaction, taking the write lock at its start (BEGIN IMMEDIATE)."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:  # also when COMMIT itself failed
                self.conn.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self):
        """One read transaction: every statement inside sees the database as of the first
        one, and takes no write lock (in WAL mode writers go on meanwhile)."""
        self.conn.execute("BEGIN DEFERRED")
        try:
            yield self
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")  # nothing was written: only ends the snapshot

    def schema_version(self):
        """The number of migrations applied; 0 for an empty database."""
        exists = self.row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        if exists is None:
            return 0
        return self.row("SELECT coalesce(max(version), 0) FROM schema_migrations")[0]

    def migrate(self, applied_at):
        """Apply the migrations not yet applied, each in its own transaction; return them."""
        done = []
        for version, (name, statements) in enumerate(MIGRATIONS, start=1):
            with self.atomic():
                # Checked inside the write lock, so two init-db at once cannot both apply it.
                if self.schema_version() >= version:
                    continue
                for statement in statements:
                    self.execute(statement)
                self.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, applied_at),
                )
            done.append(name)
        return done
