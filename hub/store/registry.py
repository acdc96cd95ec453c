"""Who and where: settings, locations, devices, users and API tokens."""

import hashlib
import secrets
import sqlite3

from werkzeug.security import check_password_hash, generate_password_hash

from hub.store import rollups


class Conflict(Exception):
    """A record that must be unique already exists, or one that must exist does not."""


def new_token():
    """A fresh bearer token (256 random bits) and the hash that is all the hub keeps of it."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token):
    # A token has 256 bits of entropy: a fast hash cannot be brute-forced, a slow one is not needed.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def ensure_secret_key(db):
    """The Flask secret key, generated once on init-db and kept in the database."""
    with db.atomic():
        db.execute(
            "INSERT INTO settings (key, value) VALUES ('secret_key', ?) ON CONFLICT DO NOTHING",
            (secrets.token_hex(32),),
        )
    return secret_key(db)


def secret_key(db):
    row = db.row("SELECT value FROM settings WHERE key = 'secret_key'")
    return row[0] if row else None


# Locations


def add_location(db, slug, name, timezone, opening_hours, now, group=None):
    try:
        with db.atomic():
            db.execute(
                "INSERT INTO locations (slug, name, timezone, opening_hours, location_group,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (slug, name, timezone, opening_hours, group, now),
            )
    except sqlite3.IntegrityError:
        raise Conflict(f"location {slug!r} already exists") from None


def locations(db):
    return db.rows(
        "SELECT id, slug, name, timezone, opening_hours, location_group FROM locations"
        " ORDER BY slug"
    )


def location(db, slug):
    return db.row(
        "SELECT id, slug, name, timezone, opening_hours, location_group FROM locations"
        " WHERE slug = ?",
        (slug,),
    )


def _location_id(db, slug):
    row = location(db, slug)
    if row is None:
        raise Conflict(f"no location {slug!r}; `hub location add` creates one")
    return row["id"]


# Devices


def add_device(db, device_id, slug, now):
    """Register a device at a location; return its token (the only time it is seen)."""
    token, digest = new_token()
    with db.atomic():
        location_id = _location_id(db, slug)
        if db.row("SELECT 1 FROM devices WHERE device_id = ?", (device_id,)):
            raise Conflict(f"device {device_id!r} already exists")
        db.execute(
            "INSERT INTO devices (device_id, location_id, token_hash, created_at)"
            " VALUES (?, ?, ?, ?)",
            (device_id, location_id, digest, now),
        )
        # The first placement counts from the beginning of time: presses recorded before
        # registration (or with a wrong clock) still belong somewhere.
        db.execute(
            "INSERT INTO device_locations (device_id, location_id, since) VALUES (?, ?, ?)",
            (device_id, location_id, ""),
        )
    return token


def move_device(db, device_id, slug, now):
    """Presses from *now* on belong to the new location; earlier ones stay where they were."""
    with db.atomic():
        location_id = _location_id(db, slug)
        _device(db, device_id)
        db.execute(
            "UPDATE devices SET location_id = ? WHERE device_id = ?", (location_id, device_id)
        )
        db.execute(
            "INSERT INTO device_locations (device_id, location_id, since) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id, since) DO UPDATE SET location_id = excluded.location_id",
            (device_id, location_id, now),
        )


def revoke_device(db, device_id, now):
    with db.atomic():
        _device(db, device_id)
        db.execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?) WHERE device_id = ?",
            (now, device_id),
        )


def rotate_device_token(db, device_id):
    """A new token for *device_id*; return it (the only time it is seen). The old token stops
    working with this commit; id, location, presses and numbering stay. A revoked device is
    active again with the new token (re-keying it is how a revoked kiosk comes back)."""
    token, digest = new_token()
    with db.atomic():
        _device(db, device_id)
        db.execute(
            "UPDATE devices SET token_hash = ?, revoked_at = NULL WHERE device_id = ?",
            (digest, device_id),
        )
    return token


def _device(db, device_id):
    row = db.row("SELECT * FROM devices WHERE device_id = ?", (device_id,))
    if row is None:
        raise Conflict(f"no device {device_id!r}")
    return row


def devices(db):
    return db.rows(
        "SELECT d.device_id, l.slug AS location, d.created_at, d.revoked_at,"
        " s.last_seen_at, s.last_heartbeat_at, s.queued, s.oldest_queued_at, s.clock_synced,"
        " s.clock_skew_ms, s.version, s.boot_id, s.buffer_id AS card,"
        " (SELECT count(*) FROM device_buffers b WHERE b.device_id = d.device_id) AS cards,"
        " coalesce(s.highest_seq, 0) AS highest_seq, coalesce(s.held_through, 0) AS held_through,"
        " coalesce(s.seq_conflicts, 0) AS seq_conflicts"
        " FROM devices d JOIN locations l ON l.id = d.location_id"
        " LEFT JOIN device_state s ON s.device_id = d.device_id"
        " ORDER BY d.device_id"
    )


def device_history(db, device_id):
    """[(since, location_id)] in time order; the first `since` is "" (the beginning)."""
    return [
        (row[0], row[1])
        for row in db.rows(
            "SELECT since, location_id FROM device_locations WHERE device_id = ? ORDER BY since",
            (device_id,),
        )
    ]


# Users and API tokens


def add_user(db, username, password, role, now):
    digest = generate_password_hash(password)
    try:
        with db.atomic():
            db.execute(
                "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                (username, digest, role, now),
            )
    except sqlite3.IntegrityError:
        raise Conflict(f"user {username!r} already exists") from None


_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def check_user_password(db, username, password):
    """The user row if *password* is theirs, else None (same cost whether or not they exist)."""
    row = db.row("SELECT id, username, role, password_hash FROM users WHERE username = ?",
                 (username,))
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return row if check_password_hash(row["password_hash"], password) else None


def user(db, user_id):
    return db.row("SELECT id, username, role FROM users WHERE id = ?", (user_id,))


def add_api_token(db, username, now):
    """A new read-API token for *username*; return it (the only time it is seen)."""
    token, digest = new_token()
    with db.atomic():
        row = db.row("SELECT id FROM users WHERE username = ?", (username,))
        if row is None:
            raise Conflict(f"no user {username!r}; `hub user add` creates one")
        db.execute(
            "INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (?, ?, ?)",
            (row[0], digest, now),
        )
    return token


def bearer(db, token):
    """Who holds *token*: ("device", device_id, None) or ("user", username, role); None if
    the token is unknown or revoked. Looked up by hash, so no comparison leaks timing."""
    digest = token_hash(token)
    row = db.row(
        "SELECT device_id FROM devices WHERE token_hash = ? AND revoked_at IS NULL", (digest,)
    )
    if row is not None:
        return ("device", row[0], None)
    row = db.row(
        "SELECT u.username, u.role FROM api_tokens t JOIN users u ON u.id = t.user_id"
        " WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        (digest,),
    )
    if row is not None:
        return ("user", row[0], row[1])
    return None


# Edited from the admin pages


def update_location(db, slug, name, timezone, opening_hours, group):
    """Save a location's settings; None, or (presses, hours) if its time zone changed: then
    its rollups are recounted in the new zone and replaced in the transaction that changes
    it, and the write lock is held only for that transaction (hub.store.rollups)."""

    def save(db):
        db.execute(
            "UPDATE locations SET name = ?, opening_hours = ?, location_group = ? WHERE id = ?",
            (name, opening_hours, group, location_id),
        )

    with db.atomic():
        location_id = _location_id(db, slug)
        if db.row("SELECT timezone FROM locations WHERE id = ?", (location_id,))[0] == timezone:
            save(db)
            return None
    try:
        return rollups.rebuild_location(db, location_id, timezone, also=save)
    except rollups.NotRebuilt as error:
        raise Conflict(f"location {slug!r} not saved: {error}") from None


def users(db):
    return db.rows("SELECT id, username, role, created_at FROM users ORDER BY username")


def set_role(db, username, role):
    with db.atomic():
        if db.execute("UPDATE users SET role = ? WHERE username = ?",
                      (role, username)).rowcount != 1:
            raise Conflict(f"no user {username!r}")
