"""Webhooks (per location or global) and the log of their deliveries."""


def add(db, url, location_id, secret, now):
    with db.atomic():
        return db.execute(
            "INSERT INTO webhooks (url, location_id, secret, created_at) VALUES (?, ?, ?, ?)",
            (url, location_id, secret, now),
        ).lastrowid


def delete(db, webhook_id, now):
    with db.atomic():
        return db.execute(
            "UPDATE webhooks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
            (now, webhook_id),
        ).rowcount == 1


def webhooks(db):
    return db.rows(
        "SELECT w.id, w.url, w.created_at, l.slug AS location FROM webhooks w"
        " LEFT JOIN locations l ON l.id = w.location_id WHERE w.deleted_at IS NULL ORDER BY w.id"
    )


def for_location(db, location_id):
    """Webhooks that hear about a location: its own and the global ones."""
    return db.rows(
        "SELECT id FROM webhooks WHERE deleted_at IS NULL"
        " AND (location_id IS NULL OR location_id = ?)",
        (location_id,),
    )


def add_delivery(db, webhook_id, alert_id, event, body, now):
    """Queue a delivery (inside the caller's transaction)."""
    db.execute(
        "INSERT INTO webhook_deliveries (webhook_id, alert_id, event, body, status,"
        " next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        (webhook_id, alert_id, event, body, now, now),
    )


def due(db, now, limit=100):
    return db.rows(
        "SELECT d.id, d.event, d.body, d.attempts, w.url, w.secret FROM webhook_deliveries d"
        " JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'pending'"
        " AND w.deleted_at IS NULL"  # a deleted webhook gets no more tries
        " AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?",
        (now, limit),
    )


def record_attempt(db, delivery_id, status, attempts, next_attempt_at, now, result):
    with db.atomic():
        db.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
            " last_attempt_at = ?, last_result = ? WHERE id = ?",
            (status, attempts, next_attempt_at, now, result, delivery_id),
        )


def deliveries(db, limit=200):
    return db.rows(
        "SELECT d.id, d.webhook_id, w.url, d.alert_id, d.event, d.status, d.attempts,"
        " d.next_attempt_at, d.last_attempt_at, d.last_result, d.created_at"
        " FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
        " ORDER BY d.id DESC LIMIT ?",
        (limit,),
    )
