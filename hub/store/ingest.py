"""Writing presses, heartbeats and the rollups kept up to date with them."""

import json
from bisect import bisect_right
from collections import defaultdict
from datetime import timedelta

from hub.times import format_utc, local_hour, parse_timestamp, zone

_INSERT_PRESS = (
    "INSERT INTO presses (device_id, seq, id, mood, pressed_at, device_pressed_at,"
    " received_at, time_source, misuse, location_id, boot_id, uptime_ms, clock_synced)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (device_id, seq) DO NOTHING"
)

_ADD_TO_ROLLUP = (
    "INSERT INTO rollups (location_id, hour_start_utc, hour_start_local,"
    " n1, n2, n3, n4, m1, m2, m3, m4) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (location_id, hour_start_utc) DO UPDATE SET"
    " n1 = n1 + excluded.n1, n2 = n2 + excluded.n2, n3 = n3 + excluded.n3,"
    " n4 = n4 + excluded.n4, m1 = m1 + excluded.m1, m2 = m2 + excluded.m2,"
    " m3 = m3 + excluded.m3, m4 = m4 + excluded.m4"
)


class RollupCounter:
    """Counts presses per (location, local hour) the same way for ingest and for rebuild."""

    def __init__(self, zones):
        self.zones = zones  # location_id -> ZoneInfo
        self.buckets = defaultdict(lambda: [None] + [0] * 8)
        self.minutes = {}

    def add(self, location_id, placed, placed_text, mood, misuse):
        key, local = self._local_hour(location_id, placed, placed_text)
        bucket = self.buckets[(location_id, key)]
        bucket[0] = local
        bucket[mood + (4 if misuse else 0)] += 1

    def _local_hour(self, location_id, placed, placed_text):
        # Presses come in runs of the same minute; a minute whose first and last instants
        # fall in the same local hour has all its instants there (hour starts only grow).
        minute = (location_id, placed_text[:16])
        hour = self.minutes.get(minute)
        if hour is None:
            tz = self.zones[location_id]
            start = placed.replace(second=0, microsecond=0)
            first, last = local_hour(start, tz), local_hour(start + _LAST_OF_MINUTE, tz)
            hour = self.minutes[minute] = first if first == last else False
        return hour or local_hour(placed, self.zones[location_id])

    def rows(self):
        return [(loc, key, *bucket) for (loc, key), bucket in self.buckets.items()]


_LAST_OF_MINUTE = timedelta(seconds=59, microseconds=999999)


def _zones(db):
    return {row[0]: zone(row[1]) for row in db.rows("SELECT id, timezone FROM locations")}


def insert_presses(db, device_id, presses, received_at, state=None):
    """Store a batch of placed presses whole or not at all; return (inserted, duplicates).

    *presses* are objects with seq, id, mood, placed (aware UTC), placed_text, time_source,
    misuse, device_pressed_at (text), boot_id, uptime_ms, clock_synced. A (device, seq) already
    stored is a duplicate; rollups and counters change only for rows actually inserted.
    *state*, a heartbeat riding along in the batch envelope, is recorded in the same
    transaction (one commit for both).
    """
    received = format_utc(received_at)
    with db.atomic():
        stored = {
            row[0]
            for row in db.rows(
                "SELECT seq FROM presses WHERE device_id = ?"
                " AND seq IN (SELECT value FROM json_each(?))",
                (device_id, json.dumps([p.seq for p in presses])),
            )
        }
        fresh = [p for p in presses if p.seq not in stored]
        history = db.rows(
            "SELECT since, location_id FROM device_locations WHERE device_id = ? ORDER BY since",
            (device_id,),
        )
        starts = [row[0] for row in history]
        counter = RollupCounter(_zones(db))
        rows = []
        for p in fresh:
            placed = p.placed_text
            # The location the device was at when pressed (history[0] starts at "").
            location_id = history[bisect_right(starts, placed) - 1][1]
            counter.add(location_id, p.placed, placed, p.mood, p.misuse)
            rows.append((
                device_id, p.seq, p.id, p.mood, placed, p.device_pressed_at,
                received, p.time_source, int(p.misuse), location_id, p.boot_id, p.uptime_ms,
                int(p.clock_synced),
            ))
        inserted = db.executemany(_INSERT_PRESS, rows).rowcount if rows else 0
        if inserted != len(rows):
            # Cannot happen while we hold the write lock; refuse rather than miscount.
            raise RuntimeError(f"expected to insert {len(rows)} presses, inserted {inserted}")
        db.executemany(_ADD_TO_ROLLUP, counter.rows())
        duplicates = len(presses) - inserted
        _count(db, "presses_ingested", inserted)
        _count(db, "presses_duplicate", duplicates)
        db.execute(
            "INSERT INTO device_state (device_id, last_seen_at, last_batch_at, presses_stored,"
            " highest_seq) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at,"
            " last_batch_at = excluded.last_batch_at,"
            " presses_stored = presses_stored + excluded.presses_stored,"
            " highest_seq = max(highest_seq, excluded.highest_seq)",
            (device_id, received, received, inserted, max((p.seq for p in fresh), default=0)),
        )
        if state is not None:
            _record_state(db, state, received_at)
    return inserted, duplicates


def record_heartbeat(db, beat, received_at):
    """Keep the latest state a device reported, and how far its clock is from the hub's."""
    with db.atomic():
        _record_state(db, beat, received_at)


def _record_state(db, beat, received_at):
    # A batch envelope may leave sent_at out: then the last sent_at and skew are kept.
    received = format_utc(received_at)
    skew_ms = None
    if beat.sent_at is not None:
        skew_ms = round((beat.sent_at - received_at).total_seconds() * 1000)
    db.execute(
        "INSERT INTO device_state (device_id, last_seen_at, last_heartbeat_at, boot_id,"
        " uptime_ms, sent_at, clock_skew_ms, queued, oldest_queued_at, clock_synced,"
        " version, parked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at,"
        " last_heartbeat_at = excluded.last_heartbeat_at, boot_id = excluded.boot_id,"
        " uptime_ms = excluded.uptime_ms, sent_at = coalesce(excluded.sent_at, sent_at),"
        " clock_skew_ms = coalesce(excluded.clock_skew_ms, clock_skew_ms),"
        " queued = excluded.queued, oldest_queued_at = excluded.oldest_queued_at,"
        " clock_synced = excluded.clock_synced, version = excluded.version,"
        " parked = excluded.parked",
        (
            beat.device_id, received, received, beat.boot_id, beat.uptime_ms,
            None if beat.sent_at is None else format_utc(beat.sent_at), skew_ms, beat.queued,
            format_utc(beat.oldest_queued_at) if beat.oldest_queued_at else None,
            None if beat.clock_synced is None else int(beat.clock_synced),
            beat.version, beat.parked,
        ),
    )


def rebuild_rollups(db):
    """Recompute every rollup from the raw presses (the source of truth); return counts."""
    with db.atomic():
        counter = RollupCounter(_zones(db))
        presses = 0
        cursor = db.execute("SELECT location_id, pressed_at, mood, misuse FROM presses")
        for location_id, pressed_at, mood, misuse in cursor:
            counter.add(location_id, parse_timestamp(pressed_at), pressed_at, mood, misuse)
            presses += 1
        db.execute("DELETE FROM rollups")
        rows = counter.rows()
        db.executemany(_ADD_TO_ROLLUP, rows)
        recount_device_presses(db)
    return presses, len(rows)


def recount_device_presses(db):
    """Set every device's presses_stored and highest_seq from the presses themselves."""
    db.execute(
        "INSERT INTO device_state (device_id, presses_stored, highest_seq)"
        " SELECT device_id, count(*), max(seq) FROM presses GROUP BY device_id"
        " ON CONFLICT (device_id) DO UPDATE SET presses_stored = excluded.presses_stored,"
        " highest_seq = excluded.highest_seq"
    )


def count(db, name, amount=1):
    """Add to a named counter in its own transaction (for events outside other writes)."""
    with db.atomic():
        _count(db, name, amount)


def _count(db, name, amount):
    if amount:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )
