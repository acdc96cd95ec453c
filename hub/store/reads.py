"""Reading what was stored: rollups by hour, raw presses by page, figures for /metrics,
the clock skews measured in earlier boots."""

import json

_SUM_NORMAL = "sum(n1), sum(n2), sum(n3), sum(n4)"
_SUM_ALL = "sum(n1 + m1), sum(n2 + m2), sum(n3 + m3), sum(n4 + m4)"


def hourly_counts(db, location_id, start_key, end_key, include_misuse):
    """[(hour_start_local, n1, n2, n3, n4)] for rollup keys in [start_key, end_key).

    Reads rollups only; hours with nothing to count (only misuse, when left out) are skipped.
    """
    columns = "n1 + m1, n2 + m2, n3 + m3, n4 + m4" if include_misuse else "n1, n2, n3, n4"
    cursor = db.conn.cursor()
    cursor.row_factory = None  # plain tuples: a year is 8,760 rows
    return [
        row for row in cursor.execute(
            f"SELECT hour_start_local, {columns} FROM rollups"  # noqa: S608  # nosec B608  # fixed column lists
            " WHERE location_id = ? AND hour_start_utc >= ? AND hour_start_utc < ?"
            " ORDER BY hour_start_utc",
            (location_id, start_key, end_key),
        )
        if row[1] or row[2] or row[3] or row[4]
    ]


def total_counts(db, location_id, start_key, end_key, include_misuse=False):
    """(n1, n2, n3, n4) summed over rollup keys in [start_key, end_key)."""
    sums = _SUM_ALL if include_misuse else _SUM_NORMAL
    row = db.row(
        f"SELECT {sums} FROM rollups"  # noqa: S608  # nosec B608  # fixed column lists
        " WHERE location_id = ? AND hour_start_utc >= ? AND hour_start_utc < ?",
        (location_id, start_key, end_key),
    )
    return tuple(n or 0 for n in row)


PRESS_COLUMNS = (
    "id", "device_id", "location", "seq", "mood", "pressed_at", "device_pressed_at",
    "received_at", "time_source", "misuse",
)


def presses(db, location_id, start, end, device_id=None, include_misuse=False, after=None,
            limit=None):
    """Raw presses placed in [start, end) (UTC text), in placed-time order, as dicts.

    *after* is the (pressed_at, device_id, seq) of the last row already seen.
    """
    sql = [
        "SELECT p.id, p.device_id, l.slug AS location, p.seq, p.mood, p.pressed_at,"
        " p.device_pressed_at, p.received_at, p.time_source, p.misuse"
        " FROM presses p JOIN locations l ON l.id = p.location_id"
        " WHERE p.location_id = ? AND p.pressed_at >= ? AND p.pressed_at < ?"
    ]
    params = [location_id, start, end]
    if device_id is not None:
        sql.append(" AND p.device_id = ?")
        params.append(device_id)
    if not include_misuse:
        sql.append(" AND p.misuse = 0")
    if after is not None:
        sql.append(" AND (p.pressed_at, p.device_id, p.seq) > (?, ?, ?)")
        params.extend(after)
    sql.append(" ORDER BY p.pressed_at, p.device_id, p.seq")
    if limit is not None:
        sql.append(" LIMIT ?")
        params.append(limit)
    return [
        {**dict(row), "misuse": bool(row["misuse"])}
        for row in db.rows("".join(sql), params)
    ]


def counters(db):
    return {row[0]: row[1] for row in db.rows("SELECT name, value FROM counters")}


def silent_devices(db, seen_before):
    """How many devices (not revoked) have not been heard from since *seen_before*."""
    return db.row(
        "SELECT count(*) FROM devices d LEFT JOIN device_state s ON s.device_id = d.device_id"
        " WHERE d.revoked_at IS NULL AND (s.last_seen_at IS NULL OR s.last_seen_at < ?)",
        (seen_before,),
    )[0]


def boot_skews(db, device_id, boot_ids):
    """{boot_id: skew_ms}: the clock skew measured in each of *boot_ids* that has one."""
    return {
        row[0]: row[1]
        for row in db.rows(
            "SELECT boot_id, skew_ms FROM boot_skews WHERE device_id = ?"
            " AND boot_id IN (SELECT value FROM json_each(?))",
            (device_id, json.dumps(sorted(boot_ids))),
        )
    }


def ping(db):
    return db.row("SELECT count(*) FROM schema_migrations")[0] > 0


def daily_counts(db, location_id, start_key, end_key):
    """[(local date, n1, n2, n3, n4)] summed per local date over rollup keys in the range."""
    cursor = db.conn.cursor()
    cursor.row_factory = None
    return cursor.execute(
        "SELECT substr(hour_start_local, 1, 10), sum(n1), sum(n2), sum(n3), sum(n4)"
        " FROM rollups WHERE location_id = ? AND hour_start_utc >= ? AND hour_start_utc < ?"
        " GROUP BY 1 ORDER BY 1",
        (location_id, start_key, end_key),
    ).fetchall()
