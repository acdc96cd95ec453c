"""Failed logins, counted per (username, client address) in the database."""


def recent_failures(db, username, address, since):
    """How many failed logins for *username* from *address* at or after *since* (UTC text)."""
    return db.row(
        "SELECT count(*) FROM login_failures"
        " WHERE username = ? AND address = ? AND failed_at >= ?",
        (username, address, since),
    )[0]


def record_failure(db, username, address, now, forget_before):
    """Count one failure; failures older than *forget_before* are dropped on the way."""
    with db.atomic():
        db.execute("DELETE FROM login_failures WHERE failed_at < ?", (forget_before,))
        db.execute(
            "INSERT INTO login_failures (username, address, failed_at) VALUES (?, ?, ?)",
            (username, address, now),
        )


def clear_failures(db, username, address):
    with db.atomic():
        db.execute("DELETE FROM login_failures WHERE username = ? AND address = ?",
                   (username, address))
