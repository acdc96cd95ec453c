"""Alerts, their thresholds per location, and the device facts the alert rules read."""

import json

DEFAULTS = {"window_s": 15 * 60, "min_presses": 4, "share_pct": 50, "silent_after_s": 15 * 60,
            "rule": "usual"}

_ALERT_COLUMNS = (
    "a.id, a.rule, a.device_id, a.opened_at, a.detail, a.cleared_at, a.acknowledged_at,"
    " a.acknowledged_by, a.comment, a.resolved_at, a.calm_since, l.slug AS location,"
    " l.name AS location_name, l.timezone, l.location_group"
)


def settings(db):
    """{location_id: {window_s, min_presses, share_pct, silent_after_s, rule}} for every
    location (rule: "usual" or "simple", see hub.negative_feedback)."""
    stored = {row[0]: dict(row) for row in db.rows("SELECT * FROM alert_settings")}
    result = {}
    for (location_id,) in db.rows("SELECT id FROM locations"):
        row = stored.get(location_id, {})
        result[location_id] = {key: row.get(key, value) for key, value in DEFAULTS.items()}
    return result


def save_settings(db, location_id, values):
    """Store a location's thresholds; a rule not given is the default ("usual")."""
    with db.atomic():
        db.execute(
            "INSERT INTO alert_settings (location_id, window_s, min_presses, share_pct,"
            " silent_after_s, rule) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (location_id)"
            " DO UPDATE SET window_s = excluded.window_s, min_presses = excluded.min_presses,"
            " share_pct = excluded.share_pct, silent_after_s = excluded.silent_after_s,"
            " rule = excluded.rule",
            (location_id, values["window_s"], values["min_presses"], values["share_pct"],
             values["silent_after_s"], values.get("rule", DEFAULTS["rule"])),
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


def hour_history(db, location_id, start_key, end_key, hours):
    """[(weekday, hour, negative, presses)] summed over the rollups in [start_key, end_key)
    whose local hour is one of *hours* (two-digit text, "07"), per local weekday (0 =
    Monday) and hour; misuse left out."""
    return [
        ((int(sunday_first) + 6) % 7, int(hour), negative, n)
        for sunday_first, hour, negative, n in db.rows(
            "SELECT strftime('%w', substr(hour_start_local, 1, 10)),"
            " substr(hour_start_local, 12, 2) AS hour, sum(n1 + n2), sum(n1 + n2 + n3 + n4)"
            " FROM rollups WHERE location_id = ? AND hour_start_utc >= ? AND hour_start_utc < ?"
            " AND substr(hour_start_local, 12, 2) IN (SELECT value FROM json_each(?))"
            " GROUP BY 1, 2",
            (location_id, start_key, end_key, json.dumps(list(hours))),
        )
    ]


def share_history(db, location_id, start_key, end_key):
    """(negative, presses) of the rollups in [start_key, end_key); misuse left out."""
    row = db.row(
        "SELECT sum(n1 + n2), sum(n1 + n2 + n3 + n4) FROM rollups"
        " WHERE location_id = ? AND hour_start_utc >= ? AND hour_start_utc < ?",
        (location_id, start_key, end_key),
    )
    return row[0] or 0, row[1] or 0


def last_resolved(db, location_id, rule):
    """When an alert of *rule* at this location was last resolved, or None."""
    return db.row(
        "SELECT max(resolved_at) FROM alerts WHERE location_id = ? AND rule = ?",
        (location_id, rule),
    )[0]


def unresolved(db, location_id, rule):
    """The alert of *rule* at this location that is open or acknowledged and not yet
    resolved (at most one), or None."""
    return db.row(
        "SELECT id, opened_at, acknowledged_at, calm_since FROM alerts"
        " WHERE location_id = ? AND rule = ? AND resolved_at IS NULL AND cleared_at IS NULL",
        (location_id, rule),
    )


def set_calm_since(db, alert_id, calm_since):
    """Since when the rule's window has stayed below its threshold (None: it is not)."""
    db.execute("UPDATE alerts SET calm_since = ? WHERE id = ?", (calm_since, alert_id))


def resolve(db, alert_id, now):
    """Resolve an acknowledged alert; False if it was not acknowledged or already resolved."""
    return db.execute(
        "UPDATE alerts SET resolved_at = ? WHERE id = ? AND acknowledged_at IS NOT NULL"
        " AND resolved_at IS NULL",
        (now, alert_id),
    ).rowcount == 1


def lifecycle_times(db):
    """(rule, opened_at, acknowledged_at, resolved_at) of every alert acknowledged."""
    return db.rows(
        "SELECT rule, opened_at, acknowledged_at, resolved_at FROM alerts"
        " WHERE acknowledged_at IS NOT NULL ORDER BY id"
    )


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

