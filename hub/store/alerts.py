"""Alerts, their thresholds per location, and the device facts the alert rules read."""

DEFAULTS = {"window_s": 15 * 60, "min_presses": 4, "share_pct": 50, "silent_after_s": 15 * 60}

_ALERT_COLUMNS = (
    "a.id, a.rule, a.device_id, a.opened_at, a.detail, a.cleared_at, a.acknowledged_at,"
    " a.acknowledged_by, a.comment, l.slug AS location, l.name AS location_name,"
    " l.timezone, l.location_group"
)


def settings(db):
    """{location_id: {window_s, min_presses, share_pct, silent_after_s}} for every location."""
    stored = {row[0]: dict(row) for row in db.rows("SELECT * FROM alert_settings")}
    result = {}
    for (location_id,) in db.rows("SELECT id FROM locations"):
        row = stored.get(location_id, {})
        result[location_id] = {key: row.get(key, value) for key, value in DEFAULTS.items()}
    return result


def save_settings(db, location_id, values):
    with db.atomic():
        db.execute(
            "INSERT INTO alert_settings (location_id, window_s, min_presses, share_pct,"
            " silent_after_s) VALUES (?, ?, ?, ?, ?) ON CONFLICT (location_id) DO UPDATE SET"
            " window_s = excluded.window_s, min_presses = excluded.min_presses,"
            " share_pct = excluded.share_pct, silent_after_s = excluded.silent_after_s",
            (location_id, values["window_s"], values["min_presses"], values["share_pct"],
             values["silent_after_s"]),
        )


def press_counts(db, location_id, start, end):
    """(n1, n2, n3, n4) of presses (misuse left out) placed in [start, end), UTC text."""
    counts = [0, 0, 0, 0]
    for mood, n in db.rows(
        "SELECT mood, count(*) FROM presses WHERE location_id = ? AND pressed_at >= ?"
        " AND pressed_at < ? AND misuse = 0 GROUP BY mood",
        (location_id, start, end),
    ):
        counts[mood - 1] = n
    return tuple(counts)


def last_acknowledged(db, location_id, rule):
    """When an alert of *rule* at this location was last acknowledged, or None."""
    return db.row(
        "SELECT max(acknowledged_at) FROM alerts WHERE location_id = ? AND rule = ?",
        (location_id, rule),
    )[0]


def raise_alert(db, location_id, rule, device_id, now, detail):
    """Open an alert unless one is open for (location, rule, device); its id, or None."""
    row = db.row(
        "INSERT INTO alerts (location_id, rule, device_id, opened_at, detail)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        (location_id, rule, device_id, now, detail),
    )
    return None if row is None else row[0]


def open_silent_alerts(db):
    return db.rows(
        "SELECT id, location_id, device_id, opened_at FROM alerts WHERE rule = 'silent_device'"
        " AND acknowledged_at IS NULL AND cleared_at IS NULL"
    )


def clear(db, alert_id, now):
    db.execute("UPDATE alerts SET cleared_at = ? WHERE id = ? AND cleared_at IS NULL",
               (now, alert_id))


def acknowledge(db, alert_id, username, comment, now):
    """Acknowledge an open alert (a comment may come with it); False if it was not open."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?,"
            " comment = CASE WHEN ? = '' THEN comment ELSE ? END"
            " WHERE id = ? AND acknowledged_at IS NULL",
            (now, username, comment, comment, alert_id),
        )
    return cursor.rowcount == 1


def set_comment(db, alert_id, comment):
    with db.atomic():
        return db.execute("UPDATE alerts SET comment = ? WHERE id = ?",
                          (comment, alert_id)).rowcount == 1


def alert(db, alert_id):
    return db.row(
        f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN locations l ON l.id = a.location_id"  # noqa: S608  # nosec B608  # fixed column list
        " WHERE a.id = ?",
        (alert_id,),
    )


def alerts(db, open_only, limit=500):
    """Alerts newest first: the open ones, or all of them (at most *limit*)."""
    where = "WHERE a.acknowledged_at IS NULL AND a.cleared_at IS NULL" if open_only else ""
    return db.rows(
        f"SELECT {_ALERT_COLUMNS} FROM alerts a JOIN locations l ON l.id = a.location_id"  # noqa: S608  # nosec B608  # fixed column list
        f" {where} ORDER BY a.opened_at DESC, a.id DESC LIMIT ?",
        (limit,),
    )


def devices(db, location_id=None):
    """Devices not revoked, with what they last reported (None where nothing yet)."""
    sql = (
        "SELECT d.device_id, d.location_id, d.created_at, s.last_seen_at, s.last_heartbeat_at,"
        " s.last_batch_at, s.queued, s.oldest_queued_at, s.clock_synced, s.clock_skew_ms,"
        " s.version, s.parked, coalesce(s.presses_stored, 0) AS presses_stored,"
        " coalesce(s.highest_seq, 0) AS highest_seq, coalesce(s.seq_jumped, 0) AS seq_jumped,"
        " coalesce(s.seq_conflicts, 0) AS seq_conflicts, s.last_seq_conflict_at, s.buffer_id,"
        " (SELECT count(*) FROM device_buffers b WHERE b.device_id = d.device_id) AS cards,"
        " (SELECT max(b.first_seen_at) FROM device_buffers b WHERE b.device_id = d.device_id"
        "  AND b.buffer_id = s.buffer_id) AS card_since"
        " FROM devices d LEFT JOIN device_state s ON s.device_id = d.device_id"
        " WHERE d.revoked_at IS NULL"
    )
    if location_id is None:
        return db.rows(sql + " ORDER BY d.device_id")
    return db.rows(sql + " AND d.location_id = ? ORDER BY d.device_id", (location_id,))

