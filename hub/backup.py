"""Backups of the hub database: timestamped copies in a directory, the newest N kept."""

import os
import sqlite3
from pathlib import Path

PATTERN = "hub-*.db"
FILE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
SIDE_FILES = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\0"


class LiveDatabase(ValueError):
    """DEST is the live database (or its -wal/-shm), or a database that looks open."""


def backup(db, dest, now, keep=None):
    """Copy *db* into *dest* and return the path written.

    *dest* is a file if it ends in .db/.sqlite/.sqlite3 (and is not a directory); otherwise a
    directory (created if missing) that gets `hub-YYYYmmddTHHMMSSZ.db`, and only the newest
    *keep* of those are kept. The copy is written beside its target, then renamed into place.
    """
    dest = Path(dest)
    refuse_live(db.path, dest)
    is_file = dest.suffix in FILE_SUFFIXES and not dest.is_dir()
    if is_file:
        if keep is not None:
            raise ValueError("--keep needs a directory as DEST, not a file")
        target = dest
    else:
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / f"hub-{now:%Y%m%dT%H%M%SZ}.db"
    refuse_live(db.path, target)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        db.backup(partial)
    except sqlite3.Error as error:  # named after the copy, not the database it reads
        partial.unlink(missing_ok=True)
        raise OSError(f"{partial}: {error}") from None
    os.replace(partial, target)
    removed = prune(dest, keep, db.path) if keep is not None else []
    return target, removed


def refuse_live(db_path, path):
    """Raise LiveDatabase if writing *path* would replace a file the hub has open.

    Replacing the live database under a running hub, or any SQLite file with a -wal beside
    it, loses presses (the WAL is then replayed onto the wrong file); so *path* may be neither
    the database at *db_path* nor its -wal/-shm, by any name (symlink, relative path, hard
    link), nor an existing SQLite file with a -wal or -shm beside it.
    """
    reason = live_reason(db_path, path)
    if reason:
        raise LiveDatabase(f"{path} {reason}; a backup never replaces it")


def live_reason(db_path, path):
    """Why *path* is a file the hub (or another program) has open, or None."""
    if db_path is not None and db_path != ":memory:":
        for live in _live_files(db_path):
            if _same_file(path, live):
                return f"is the hub's live database{_side_name(live)} ({db_path})"
    for candidate in {Path(path), Path(os.path.realpath(path))}:
        if _is_sqlite(candidate) and any(
                candidate.with_name(candidate.name + side).exists() for side in SIDE_FILES):
            return ("is an SQLite database in use (it has a -wal, -shm or -journal file "
                    "beside it)")
    return None


def _live_files(db_path):
    names = {str(db_path), os.path.realpath(db_path)}
    return [Path(name + side) for name in names for side in ("", *SIDE_FILES)]


def _side_name(path):
    side = next((s for s in SIDE_FILES if path.name.endswith(s)), "")
    return f"'s {side} file" if side else ""


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)  # also a hard link or another mount of the same file
    except OSError:  # one of them does not exist: compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def _is_sqlite(path):
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:  # missing, a directory, unreadable: nothing to replace
        return False


def prune(directory, keep, db_path=None):
    """Delete all but the newest *keep* backups in *directory* (names sort by time); never
    one that is the live database at *db_path* or looks open."""
    backups = [path for path in sorted(Path(directory).glob(PATTERN))
               if live_reason(db_path, path) is None]
    old = backups[: max(len(backups) - keep, 0)]
    for path in old:
        path.unlink()
    return old
