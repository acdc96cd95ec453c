"""The hub's schema as ordered migrations: never edit one that has shipped, append a new one.

Timestamps are text `YYYY-MM-DDTHH:MM:SS.fffZ` (UTC, fixed width, so they sort as text).
"""

INITIAL = [
    """CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT""",
    # Named counters for /metrics, shared by every gunicorn worker.
    """CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL DEFAULT 0
    ) STRICT""",
    """CREATE TABLE locations (
        id INTEGER PRIMARY KEY,
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        timezone TEXT NOT NULL,
        opening_hours TEXT,
        location_group TEXT,
        created_at TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        location_id INTEGER NOT NULL REFERENCES locations (id),
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    ) STRICT""",
    # Where each device has been: a press belongs to the location of its time, not today's.
    """CREATE TABLE device_locations (
        device_id TEXT NOT NULL REFERENCES devices (device_id),
        location_id INTEGER NOT NULL REFERENCES locations (id),
        since TEXT NOT NULL,
        PRIMARY KEY (device_id, since)
    ) STRICT""",
    """CREATE TABLE presses (
        device_id TEXT NOT NULL REFERENCES devices (device_id),
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        mood INTEGER NOT NULL CHECK (mood BETWEEN 1 AND 4),
        pressed_at TEXT NOT NULL,
        device_pressed_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        time_source TEXT NOT NULL CHECK (time_source IN ('device', 'uptime', 'uncertain')),
        misuse INTEGER NOT NULL CHECK (misuse IN (0, 1)),
        location_id INTEGER NOT NULL REFERENCES locations (id),
        boot_id TEXT NOT NULL,
        uptime_ms INTEGER NOT NULL,
        clock_synced INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
        UNIQUE (device_id, seq)
    ) STRICT""",
    """CREATE INDEX presses_by_location_time
        ON presses (location_id, pressed_at, device_id, seq)""",
    """CREATE TABLE device_state (
        device_id TEXT PRIMARY KEY REFERENCES devices (device_id),
        last_seen_at TEXT,
        last_heartbeat_at TEXT,
        last_batch_at TEXT,
        boot_id TEXT,
        uptime_ms INTEGER,
        sent_at TEXT,
        clock_skew_ms INTEGER,
        queued INTEGER,
        oldest_queued_at TEXT,
        clock_synced INTEGER,
        version TEXT
    ) STRICT""",
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        created_at TEXT NOT NULL
    ) STRICT""",
    """CREATE TABLE api_tokens (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    ) STRICT""",
    # Counts per location and local clock hour, keyed by the UTC instant the local hour
    # starts; n1-n4 count presses of moods 1-4, m1-m4 the misuse presses.
    """CREATE TABLE rollups (
        location_id INTEGER NOT NULL REFERENCES locations (id),
        hour_start_utc TEXT NOT NULL,
        hour_start_local TEXT NOT NULL,
        n1 INTEGER NOT NULL DEFAULT 0,
        n2 INTEGER NOT NULL DEFAULT 0,
        n3 INTEGER NOT NULL DEFAULT 0,
        n4 INTEGER NOT NULL DEFAULT 0,
        m1 INTEGER NOT NULL DEFAULT 0,
        m2 INTEGER NOT NULL DEFAULT 0,
        m3 INTEGER NOT NULL DEFAULT 0,
        m4 INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (location_id, hour_start_utc)
    ) STRICT, WITHOUT ROWID""",
]

PAGES_AND_ALERTS = [
    # Failed logins per (username, client address), in the database so that every gunicorn
    # worker sees the same count.
    """CREATE TABLE login_failures (
        username TEXT NOT NULL,
        address TEXT NOT NULL,
        failed_at TEXT NOT NULL
    ) STRICT""",
    """CREATE INDEX login_failures_by_who ON login_failures (username, address, failed_at)""",
    # Alert thresholds per location; a location without a row uses the contract's defaults.
    """CREATE TABLE alert_settings (
        location_id INTEGER PRIMARY KEY REFERENCES locations (id),
        window_s INTEGER NOT NULL,
        min_presses INTEGER NOT NULL,
        share_pct INTEGER NOT NULL,
        silent_after_s INTEGER NOT NULL
    ) STRICT""",
    # An alert is open until acknowledged; a silent-device alert is also closed ("cleared")
    # when the device is heard from again.
    """CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        location_id INTEGER NOT NULL REFERENCES locations (id),
        rule TEXT NOT NULL CHECK (rule IN ('negative_feedback', 'silent_device')),
        device_id TEXT NOT NULL DEFAULT '',
        opened_at TEXT NOT NULL,
        detail TEXT NOT NULL,
        cleared_at TEXT,
        acknowledged_at TEXT,
        acknowledged_by TEXT,
        comment TEXT NOT NULL DEFAULT ''
    ) STRICT""",
    # One open alert per location, rule (and device, for silent devices).
    """CREATE UNIQUE INDEX alerts_one_open ON alerts (location_id, rule, device_id)
        WHERE acknowledged_at IS NULL AND cleared_at IS NULL""",
    """CREATE INDEX alerts_by_time ON alerts (opened_at)""",
    # Where alerts are sent: one location's, or every location's (location_id NULL).
    """CREATE TABLE webhooks (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        location_id INTEGER REFERENCES locations (id),
        secret TEXT NOT NULL,
        created_at TEXT NOT NULL,
        deleted_at TEXT
    ) STRICT""",
    """CREATE TABLE webhook_deliveries (
        id INTEGER PRIMARY KEY,
        webhook_id INTEGER NOT NULL REFERENCES webhooks (id),
        alert_id INTEGER NOT NULL REFERENCES alerts (id),
        event TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_attempt_at TEXT,
        last_result TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    ) STRICT""",
    """CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)""",
]

# How many presses each device has stored and its highest seq, kept by ingest, so that the
# pages show seq gaps (highest_seq - presses_stored) without counting millions of rows.
DEVICE_PRESS_COUNTS = [
    "ALTER TABLE device_state ADD COLUMN presses_stored INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE device_state ADD COLUMN highest_seq INTEGER NOT NULL DEFAULT 0",
    """INSERT INTO device_state (device_id, presses_stored, highest_seq)
        SELECT device_id, count(*), max(seq) FROM presses GROUP BY device_id
        ON CONFLICT (device_id) DO UPDATE SET presses_stored = excluded.presses_stored,
        highest_seq = excluded.highest_seq""",
]

# Presses a kiosk keeps but will not send again because the hub refused them (parked), as
# its heartbeat reports them: `queued` leaves them out, so without this they were invisible.
DEVICE_PARKED = [
    "ALTER TABLE device_state ADD COLUMN parked INTEGER",
]

# The clock skew the hub measured for each boot of a device (from a heartbeat or a batch
# envelope with sent_at): a press of an earlier boot with an unsynchronised clock is placed
# by it (time_source "skew", rule 3 of the contract). SQLite cannot widen a CHECK in place:
# the presses table is copied into one that allows "skew", keeping every rowid.
BOOT_SKEWS = [
    """CREATE TABLE boot_skews (
        device_id TEXT NOT NULL REFERENCES devices (device_id),
        boot_id TEXT NOT NULL,
        skew_ms INTEGER NOT NULL,
        measured_at TEXT NOT NULL,
        PRIMARY KEY (device_id, boot_id)
    ) STRICT, WITHOUT ROWID""",
    """CREATE TABLE presses_with_skew (
        device_id TEXT NOT NULL REFERENCES devices (device_id),
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        mood INTEGER NOT NULL CHECK (mood BETWEEN 1 AND 4),
        pressed_at TEXT NOT NULL,
        device_pressed_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        time_source TEXT NOT NULL
            CHECK (time_source IN ('device', 'uptime', 'skew', 'uncertain')),
        misuse INTEGER NOT NULL CHECK (misuse IN (0, 1)),
        location_id INTEGER NOT NULL REFERENCES locations (id),
        boot_id TEXT NOT NULL,
        uptime_ms INTEGER NOT NULL,
        clock_synced INTEGER NOT NULL CHECK (clock_synced IN (0, 1)),
        UNIQUE (device_id, seq)
    ) STRICT""",
    """INSERT INTO presses_with_skew (rowid, device_id, seq, id, mood, pressed_at,
        device_pressed_at, received_at, time_source, misuse, location_id, boot_id, uptime_ms,
        clock_synced)
        SELECT rowid, device_id, seq, id, mood, pressed_at, device_pressed_at, received_at,
        time_source, misuse, location_id, boot_id, uptime_ms, clock_synced FROM presses""",
    "DROP TABLE presses",
    "ALTER TABLE presses_with_skew RENAME TO presses",
    """CREATE INDEX presses_by_location_time
        ON presses (location_id, pressed_at, device_id, seq)""",
]

# What the hub tells a kiosk it holds, and the cards a device has had:
# held_through: every seq 1..held_through is stored (a kiosk resends synced presses above it
#   that the hub lost, e.g. to a restore from backup);
# seq_jumped: seqs skipped by a jump far ahead (a kiosk bug), not counted as missing presses;
# seq_conflicts: batches answered 409 seq_conflict (a replaced or re-flashed card);
# device_buffers: each press buffer (SD card) a device has sent from, first and last seen.
DAY_TWO = [
    "ALTER TABLE device_state ADD COLUMN held_through INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE device_state ADD COLUMN seq_jumped INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE device_state ADD COLUMN seq_conflicts INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE device_state ADD COLUMN last_seq_conflict_at TEXT",
    "ALTER TABLE device_state ADD COLUMN buffer_id TEXT",
    """UPDATE device_state SET held_through = coalesce((
        SELECT min(p.seq) FROM presses p
        WHERE p.device_id = device_state.device_id
        AND NOT EXISTS (SELECT 1 FROM presses q
                        WHERE q.device_id = p.device_id AND q.seq = p.seq + 1)
        AND EXISTS (SELECT 1 FROM presses r WHERE r.device_id = p.device_id AND r.seq = 1)
    ), 0)""",
    """CREATE TABLE device_buffers (
        device_id TEXT NOT NULL REFERENCES devices (device_id),
        buffer_id TEXT NOT NULL,
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        PRIMARY KEY (device_id, buffer_id)
    ) STRICT, WITHOUT ROWID""",
]

# What a team did about the feedback at a location (closed loop): its effect is measured
# from the presses before and after (hub.stats), optionally answering an alert.
ACTIONS = [
    """CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        location_id INTEGER NOT NULL REFERENCES locations (id),
        title TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '',
        starts_at TEXT NOT NULL,
        ends_at TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        alert_id INTEGER REFERENCES alerts (id),
        CHECK (ends_at IS NULL OR ends_at > starts_at)
    ) STRICT""",
    "CREATE INDEX actions_by_location ON actions (location_id, starts_at)",
]

# An alert's whole life: open → acknowledged → resolved (the rule's window stayed below its
# threshold long enough after acknowledgement: calm_since is when it last went below); and
# which negative-feedback rule a location uses: "usual" (against its own usual negative
# share, the default) or "simple" (the fixed share of the old default).
ALERT_LIFECYCLE = [
    "ALTER TABLE alerts ADD COLUMN resolved_at TEXT",
    "ALTER TABLE alerts ADD COLUMN calm_since TEXT",
    "ALTER TABLE alert_settings ADD COLUMN rule TEXT NOT NULL DEFAULT 'usual'"
    " CHECK (rule IN ('usual', 'simple'))",
    # Acknowledging closed a negative-feedback alert until now: those are resolved then.
    """UPDATE alerts SET resolved_at = acknowledged_at
        WHERE rule = 'negative_feedback' AND acknowledged_at IS NOT NULL""",
    # One unresolved negative-feedback alert per location, acknowledged or not (a new one
    # opens only after it is resolved); one open silent-device alert per device, as before.
    "DROP INDEX alerts_one_open",
    """CREATE UNIQUE INDEX alerts_one_open ON alerts (location_id, rule, device_id)
        WHERE cleared_at IS NULL AND resolved_at IS NULL
        AND (acknowledged_at IS NULL OR rule = 'negative_feedback')""",
]

# (name, statements), applied in order; the schema version is how many have been applied.
MIGRATIONS = [
    ("initial schema", INITIAL),
    ("pages and alerts", PAGES_AND_ALERTS),
    ("device press counts", DEVICE_PRESS_COUNTS),
    ("parked presses", DEVICE_PARKED),
    ("boot skews", BOOT_SKEWS),
    ("day-two sync: held_through, seq jumps and conflicts, cards", DAY_TWO),
    ("actions", ACTIONS),
    ("alert lifecycle and rule presets", ALERT_LIFECYCLE),
]
