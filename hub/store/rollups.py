"""Rebuilding rollups from the raw presses without holding the write lock while counting.

A location's presses are counted from read snapshots (WAL: ingest goes on meanwhile), up to
the highest presses rowid each snapshot held. Then one short write transaction checks that
nothing invalidated the count (the zone it was counted in is still the location's, or is the
one being set), counts the location's presses that arrived since (rowid above the mark:
presses are only ever appended, so new ones get higher rowids), sets the new zone if there is
one, and replaces the location's rollup rows. Only that last step holds the write lock.
"""

from hub.store.ingest import RollupCounter
from hub.times import parse_timestamp, zone

# Presses that arrived during a count are counted again from a fresh snapshot, outside the
# lock, until fewer than this many came in meanwhile (or after ROUNDS reads).
CATCH_UP_BELOW = 2000
ROUNDS = 5
# A count thrown away because another zone change landed first is started again this often.
ATTEMPTS = 3
# RollupCounter remembers every minute it has seen; a fresh one per chunk bounds the memory.
_CHUNK = 100_000

_INSERT_ROLLUP = (
    "INSERT INTO rollups (location_id, hour_start_utc, hour_start_local,"
    " n1, n2, n3, n4, m1, m2, m3, m4) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# rowid first: the presses after the mark are few, the location's may be millions.
_ARRIVED_SINCE = (
    "SELECT pressed_at, mood, misuse FROM presses WHERE rowid > ? AND +location_id = ?"
)


class NotRebuilt(Exception):
    """The rollups were not rebuilt: the location is gone, or its zone kept changing."""


class LocationCount:
    """One location's rollups counted from the raw presses, in *timezone* (a new zone to set)
    or else in the location's own, through `read` (no lock) and `write` (a short one)."""

    def __init__(self, location_id, timezone=None):
        self.location_id = location_id
        self.new_timezone = timezone
        self.timezone = timezone  # the zone counted in
        self.high = 0  # the highest presses rowid counted through
        self.presses = 0
        self.hours = {}  # hour_start_utc -> [hour_start_local, n1..n4, m1..m4]

    def read(self, db):
        """Count the location's presses above the mark from a fresh read snapshot, taking no
        write lock; return how many. Following the location's own zone, a count made in a
        zone that changed meanwhile is started over."""
        with db.snapshot():
            stored = self._stored_zone(db)
            if self.new_timezone is None and stored != self.timezone:
                self.timezone, self.high, self.presses, self.hours = stored, 0, 0, {}
            high = db.row("SELECT coalesce(max(rowid), 0) FROM presses")[0]
            if self.high == 0:
                rows = db.execute("SELECT pressed_at, mood, misuse FROM presses"
                                  " WHERE location_id = ?", (self.location_id,))
            else:
                rows = db.execute(_ARRIVED_SINCE, (self.high, self.location_id))
            counted = self._add(rows)
        self.high = high
        return counted

    def write(self, db, also=None):
        """In one write transaction: count what arrived since the last read, set the new zone
        (if any), run *also(db)* and replace the location's rollups; True. False, writing
        nothing, if the location is now in another zone than the one counted in (then `read`
        again)."""
        with db.atomic():
            if self.new_timezone is None and self._stored_zone(db) != self.timezone:
                return False
            self._add(db.execute(_ARRIVED_SINCE, (self.high, self.location_id)))
            if also is not None:
                also(db)
            if self.new_timezone is not None:
                db.execute("UPDATE locations SET timezone = ? WHERE id = ?",
                           (self.new_timezone, self.location_id))
            db.execute("DELETE FROM rollups WHERE location_id = ?", (self.location_id,))
            db.executemany(_INSERT_ROLLUP, [(self.location_id, key, *bucket)
                                            for key, bucket in self.hours.items()])
        return True

    def _stored_zone(self, db):
        row = db.row("SELECT timezone FROM locations WHERE id = ?", (self.location_id,))
        if row is None:
            raise NotRebuilt(f"no location with id {self.location_id}")
        return row[0]

    def _add(self, rows):
        zones = {self.location_id: zone(self.timezone)}
        counter, counted = RollupCounter(zones), 0
        for pressed_at, mood, misuse in rows:
            counter.add(self.location_id, parse_timestamp(pressed_at), pressed_at, mood, misuse)
            counted += 1
            if counted % _CHUNK == 0:
                self._merge(counter)
                counter = RollupCounter(zones)
        self._merge(counter)
        self.presses += counted
        return counted

    def _merge(self, counter):
        for _, key, local, *counts in counter.rows():
            bucket = self.hours.setdefault(key, [local] + [0] * 8)
            bucket[1:] = [a + b for a, b in zip(bucket[1:], counts, strict=True)]


def rebuild_location(db, location_id, timezone=None, also=None):
    """Recount one location's rollups from its raw presses, in *timezone* if given (which is
    then set as the location's zone in the same transaction), else in its own; *also(db)*
    runs inside that transaction too. Return (presses counted, hourly rollups written).

    Counting takes no write lock; the write lock is held only to count what arrived during
    the count and to replace the rows. Raises NotRebuilt if other zone changes kept landing
    first.
    """
    count = LocationCount(location_id, timezone)
    for _ in range(ATTEMPTS):
        arrived = count.read(db)
        for _ in range(ROUNDS - 1):
            if arrived < CATCH_UP_BELOW:
                break
            arrived = count.read(db)
        if count.write(db, also):
            return count.presses, len(count.hours)
    raise NotRebuilt(f"the time zone of location {location_id} changed {ATTEMPTS} times while its"
                " rollups were recounted; try again")


def rebuild_rollups(db):
    """Recompute every location's rollups from the raw presses, one location at a time, each
    written in its own short transaction; then every device's stored press count. Return
    (presses, hourly rollups)."""
    presses = hours = 0
    for (location_id,) in db.rows("SELECT id FROM locations ORDER BY id"):
        counted, written = rebuild_location(db, location_id)
        presses += counted
        hours += written
    for (device_id,) in db.rows("SELECT device_id FROM devices ORDER BY device_id"):
        with db.atomic():
            recount_device(db, device_id)
    return presses, hours


def recount_device(db, device_id):
    """Set a device's presses_stored, highest_seq and held_through from its presses (inside
    a transaction)."""
    db.execute(
        "INSERT INTO device_state (device_id, presses_stored, highest_seq)"
        " SELECT device_id, count(*), max(seq) FROM presses WHERE device_id = ?"
        " GROUP BY device_id"
        " ON CONFLICT (device_id) DO UPDATE SET presses_stored = excluded.presses_stored,"
        " highest_seq = excluded.highest_seq",
        (device_id,),
    )
    db.execute(
        "UPDATE device_state SET held_through = coalesce(("
        " SELECT min(p.seq) FROM presses p WHERE p.device_id = ?1"
        " AND NOT EXISTS (SELECT 1 FROM presses q WHERE q.device_id = ?1 AND q.seq = p.seq + 1)"
        " AND EXISTS (SELECT 1 FROM presses r WHERE r.device_id = ?1 AND r.seq = 1)"
        "), 0) WHERE device_id = ?1",
        (device_id,),
    )
