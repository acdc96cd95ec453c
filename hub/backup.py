"""Backups of the hub database: timestamped copies in a directory, the newest N kept."""

import os
import sqlite3
from pathlib import Path

PATTERN = "hub-*.db"
FILE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def backup(db, dest, now, keep=None):
    """Copy *db* into *dest* and return the path written.

    *dest* is a file if it ends in .db/.sqlite/.sqlite3 (and is not a directory); otherwise a
    directory (created if missing) that gets `hub-YYYYmmddTHHMMSSZ.db`, and only the newest
    *keep* of those are kept. The copy is written beside its target, then renamed into place.
    """
    dest = Path(dest)
    is_file = dest.suffix in FILE_SUFFIXES and not dest.is_dir()
    if is_file:
        if keep is not None:
            raise ValueError("--keep needs a directory as DEST, not a file")
        target = dest
    else:
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / f"hub-{now:%Y%m%dT%H%M%SZ}.db"
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        db.backup(partial)
    except sqlite3.Error as error:  # named after the copy, not the database it reads
        partial.unlink(missing_ok=True)
        raise OSError(f"{partial}: {error}") from None
    os.replace(partial, target)
    removed = prune(dest, keep) if keep is not None else []
    return target, removed


def prune(directory, keep):
    """Delete all but the newest *keep* backups in *directory* (names sort by time)."""
    backups = sorted(Path(directory).glob(PATTERN))
    old = backups[: max(len(backups) - keep, 0)]
    for path in old:
        path.unlink()
    return old
