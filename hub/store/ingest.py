"""Writing presses, heartbeats and the rollups kept up to date with them (rebuilding them
from the raw presses: hub.store.rollups)."""

import json
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from hub.times import format_utc, local_hour, zone

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


# A seq may run at most this far ahead of the highest the hub holds for the device (a kiosk
# never jumps more than its reserved block; 2**63 - 1 would poison "missing seqs" for good).
MAX_SEQ_AHEAD = 1_000_000
# A jump ahead wider than this is counted in seq_jumped, not as presses missing.
SEQ_JUMP = 10_000


class SeqConflict(Exception):
    """Seqs of a batch are stored with other press ids (another card of the same device):
    nothing of the batch was stored."""

    def __init__(self, conflicts, highest_seq):
        super().__init__(f"seqs {conflicts[:5]} are stored with other presses")
        self.conflicts, self.highest_seq = conflicts, highest_seq


class SeqTooFar(Exception):
    """A press's seq is more than MAX_SEQ_AHEAD above the device's highest stored seq."""

    def __init__(self, index, seq, highest_seq):
        super().__init__(f"seq {seq} is too far ahead of {highest_seq}")
        self.index, self.seq, self.highest_seq = index, seq, highest_seq


@dataclass(frozen=True, slots=True)
class Held:
    """What the hub holds of a device: its highest seq, and every seq 1..held_through."""

    highest_seq: int
    held_through: int


def insert_presses(db, device_id, presses, received_at, state=None, buffer_id=None):
    """Store a batch of placed presses whole or not at all, in a transaction of its own;
    (inserted, duplicates, Held). Raises SeqConflict or SeqTooFar (write_presses)."""
    with db.atomic():
        outcome = write_presses(db, device_id, presses, received_at, state, buffer_id)
    if isinstance(outcome, SeqConflict):
        raise outcome
    return outcome


def write_presses(db, device_id, presses, received_at, state=None, buffer_id=None):
    """Store a batch of placed presses inside the caller's transaction (the group writer's
    savepoint, or insert_presses'); (inserted, duplicates, Held), or a SeqConflict.

    *presses* are objects with seq, id, mood, placed (aware UTC), placed_text, time_source,
    misuse, device_pressed_at (text), boot_id, uptime_ms, clock_synced. A (device, seq)
    already stored with the same press id is a duplicate; with another id the batch is a
    conflict, returned (not raised, so that the conflict counted in device_state is kept)
    and nothing of it is stored. A seq more than MAX_SEQ_AHEAD above the highest raises
    SeqTooFar: the caller rolls back. Rollups and counters change only for rows actually
    inserted. *state*, a heartbeat riding along in the batch envelope, is recorded too (one
    commit for both); *buffer_id* names the kiosk's press buffer (its SD card).
    """
    received = format_utc(received_at)
    before, last_buffer, last_seen = _device_row(db, device_id)
    stored = dict(db.rows(
        "SELECT seq, id FROM presses WHERE device_id = ?"
        " AND seq IN (SELECT value FROM json_each(?))",
        (device_id, json.dumps([p.seq for p in presses])),
    ))
    conflicts = [p.seq for p in presses if stored.get(p.seq, p.id) != p.id]
    _record_buffer(db, device_id, buffer_id, received, last_buffer, last_seen)
    if conflicts:
        db.execute(
            "INSERT INTO device_state (device_id, last_seen_at, seq_conflicts,"
            " last_seq_conflict_at) VALUES (?, ?, 1, ?) ON CONFLICT (device_id) DO UPDATE"
            " SET last_seen_at = excluded.last_seen_at,"
            " seq_conflicts = seq_conflicts + 1,"
            " last_seq_conflict_at = excluded.last_seq_conflict_at",
            (device_id, received, received),
        )
        return SeqConflict(conflicts, before.highest_seq)
    outcome = _insert_fresh(db, device_id, presses, stored, received, before)
    if state is not None:
        _record_state(db, state, received_at)
    return outcome


def _insert_fresh(db, device_id, presses, stored, received, before):
    highest = before.highest_seq
    for index, p in enumerate(presses):
        if p.seq > highest + MAX_SEQ_AHEAD:
            raise SeqTooFar(index, p.seq, highest)
    fresh = [p for p in presses if p.seq not in stored]
    history = db.rows(
        "SELECT since, location_id FROM device_locations WHERE device_id = ? ORDER BY since",
        (device_id,),
    )
    starts = [row[0] for row in history]
    counter = RollupCounter(_zones(db))
    rows = []
    jumped = 0
    for p in sorted(fresh, key=lambda p: p.seq):
        if p.seq > highest:
            if p.seq - highest - 1 > SEQ_JUMP:
                jumped += p.seq - highest - 1
            highest = p.seq
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
    held_through = before.held_through
    if any(p.seq == held_through + 1 for p in fresh):
        held_through = _held_through(db, device_id, held_through)
    db.execute(
        "INSERT INTO device_state (device_id, last_seen_at, last_batch_at, presses_stored,"
        " highest_seq, held_through, seq_jumped) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at,"
        " last_batch_at = excluded.last_batch_at,"
        " presses_stored = presses_stored + excluded.presses_stored,"
        " highest_seq = max(highest_seq, excluded.highest_seq),"
        " held_through = excluded.held_through,"
        " seq_jumped = seq_jumped + excluded.seq_jumped",
        (device_id, received, received, inserted, highest, held_through, jumped),
    )
    return inserted, duplicates, Held(highest, held_through)


def _device_row(db, device_id):
    """(Held, buffer_id, last_seen_at) of *device_id*: one read of its device_state."""
    row = db.row("SELECT highest_seq, held_through, buffer_id, last_seen_at FROM device_state"
                 " WHERE device_id = ?", (device_id,))
    return (Held(0, 0), None, None) if row is None else (Held(row[0], row[1]), row[2], row[3])


def _held_through(db, device_id, start):
    """The end of the run of stored seqs start+1, start+2, … (each seq is walked once: the
    mark only grows)."""
    held_through = start
    while True:
        seqs = [row[0] for row in db.rows(
            "SELECT seq FROM presses WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT 1000",
            (device_id, held_through))]
        for seq in seqs:
            if seq != held_through + 1:
                return held_through
            held_through = seq
        if len(seqs) < 1000:
            return held_through


def _record_buffer(db, device_id, buffer_id, received, last_buffer, last_seen):
    """A buffer (card) not seen last time (*last_buffer*, heard from at *last_seen*): the
    card was replaced, re-flashed or came back."""
    if buffer_id is None or buffer_id == last_buffer:
        return
    if last_buffer is not None:  # the last card's last sign of life
        db.execute("UPDATE device_buffers SET last_seen_at = ? WHERE device_id = ?"
                   " AND buffer_id = ?", (last_seen or received, device_id, last_buffer))
    db.execute(
        "INSERT INTO device_buffers (device_id, buffer_id, first_seen_at, last_seen_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (device_id, buffer_id) DO UPDATE"
        " SET last_seen_at = excluded.last_seen_at",
        (device_id, buffer_id, received, received),
    )
    db.execute(
        "INSERT INTO device_state (device_id, buffer_id) VALUES (?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET buffer_id = excluded.buffer_id",
        (device_id, buffer_id),
    )


def record_heartbeat(db, beat, received_at):
    """write_heartbeat in a transaction of its own."""
    with db.atomic():
        return write_heartbeat(db, beat, received_at)


def write_heartbeat(db, beat, received_at):
    """Keep the latest state a device reported, and how far its clock is from the hub's
    (inside the caller's transaction); what the hub holds of the device (Held)."""
    held, last_buffer, last_seen = _device_row(db, beat.device_id)  # a heartbeat keeps Held
    _record_buffer(db, beat.device_id, beat.buffer_id, format_utc(received_at), last_buffer,
                   last_seen)
    _record_state(db, beat, received_at)
    return held


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
    if skew_ms is not None and beat.clock_synced is not True:
        # Kept per boot to place that boot's presses arriving in a later boot (rule 3); only
        # while unsynchronised: a skew read after NTP set the clock says nothing of them.
        db.execute(
            "INSERT INTO boot_skews (device_id, boot_id, skew_ms, measured_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (device_id, boot_id) DO UPDATE SET"
            " skew_ms = excluded.skew_ms, measured_at = excluded.measured_at"
            " WHERE excluded.measured_at >= boot_skews.measured_at",
            (beat.device_id, beat.boot_id, skew_ms, received),
        )


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


def add_count(db, name, amount):
    """Add to a named counter inside the caller's transaction."""
    _count(db, name, amount)


def _count(db, name, amount):
    if amount:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )
