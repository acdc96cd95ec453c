"""Whether the database can store presses now, for /healthz: a real commit, and room for more."""

import os
import sqlite3

# A batch of 1000 presses (the most one request may carry) grows the WAL by up to 0.4 MiB
# and the database as much again when the WAL is checkpointed: with less room, batches fail.
MIN_FREE_BYTES = 1024 * 1024


def write_problem(db, now):
    """Why the database cannot take writes now, or None when it can.

    A tiny commit is not enough on its own: in WAL mode it may reuse the WAL's space on a full
    disk while a real batch fails, so the free space where the database lives counts too.
    """
    try:
        with db.atomic():
            db.execute("INSERT INTO settings (key, value) VALUES ('health_written_at', ?)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (now,))
    except sqlite3.Error as error:
        return f"a test write failed: {error}"
    if db.path is None or db.path == ":memory:":
        return None
    try:
        room = os.statvfs(db.path)
    except OSError as error:
        return f"cannot see the database's free space: {error.strerror}"
    if room.f_flag & os.ST_RDONLY:
        return "the database's filesystem is read-only"
    free = room.f_bavail * room.f_frsize
    if free < MIN_FREE_BYTES:
        return (f"disk full: {free // 1024} KiB free where the database lives "
                f"(the hub needs {MIN_FREE_BYTES // 1024} KiB)")
    return None
