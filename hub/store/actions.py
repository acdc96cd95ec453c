"""Actions: what a team did at a location (closed loop), and the presses around them."""

MAX_ID = 2**63 - 1  # SQLite's integers: a larger id cannot exist (and cannot be bound)

_COLUMNS = (
    "a.id, a.location_id, a.title, a.note, a.starts_at, a.ends_at, a.created_by,"
    " a.created_at, a.alert_id, l.slug AS location, l.name AS location_name, l.timezone"
)


def add(db, location_id, title, note, starts_at, ends_at, created_by, created_at,
        alert_id=None):
    """Store an action (times as UTC text); its id."""
    with db.atomic():
        return db.row(
            "INSERT INTO actions (location_id, title, note, starts_at, ends_at, created_by,"
            " created_at, alert_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (location_id, title, note, starts_at, ends_at, created_by, created_at, alert_id),
        )[0]


def action(db, action_id):
    """One action with its location's slug, name and time zone, or None."""
    if not 0 < action_id <= MAX_ID:
        return None
    return db.row(
        f"SELECT {_COLUMNS} FROM actions a JOIN locations l ON l.id = a.location_id"  # noqa: S608  # nosec B608  # fixed column list
        " WHERE a.id = ?",
        (action_id,),
    )


def at_location(db, location_id, newest_first=False, limit=None):
    """The actions of a location in order of their start (ties by id)."""
    order = "DESC" if newest_first else "ASC"
    return db.rows(
        f"SELECT {_COLUMNS} FROM actions a JOIN locations l ON l.id = a.location_id"  # noqa: S608  # nosec B608  # fixed column list and order
        f" WHERE a.location_id = ? ORDER BY a.starts_at {order}, a.id {order} LIMIT ?",
        (location_id, -1 if limit is None else limit),
    )


def count_at_location(db, location_id):
    return db.row("SELECT count(*) FROM actions WHERE location_id = ?", (location_id,))[0]


def touching(db, location_id, start, end, leave_out):
    """Other actions of the location that start or end in [start, end) (UTC text)."""
    return db.rows(
        f"SELECT {_COLUMNS} FROM actions a JOIN locations l ON l.id = a.location_id"  # noqa: S608  # nosec B608  # fixed column list
        " WHERE a.location_id = ? AND a.id != ?"
        " AND ((a.starts_at >= ? AND a.starts_at < ?) OR (a.ends_at >= ? AND a.ends_at < ?))"
        " ORDER BY a.starts_at, a.id",
        (location_id, leave_out, start, end, start, end),
    )


def alert_location_id(db, alert_id):
    """The location of an alert, or None if there is no such alert."""
    if not 0 < alert_id <= MAX_ID:
        return None
    row = db.row("SELECT location_id FROM alerts WHERE id = ?", (alert_id,))
    return None if row is None else row[0]


def alert_summary(db, alert_id):
    """(rule, opened_at) of an alert, or None."""
    if not 0 < alert_id <= MAX_ID:
        return None
    return db.row("SELECT rule, opened_at FROM alerts WHERE id = ?", (alert_id,))
