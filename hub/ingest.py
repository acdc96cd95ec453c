"""Accepting what kiosks send: place each press in time, then store the batch."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.store import ingest as store
from hub.store import reads
from hub.times import format_utc, place_in_time


@dataclass(slots=True)
class PlacedPress:
    seq: int
    id: str
    mood: int
    placed: datetime
    placed_text: str  # as stored: `2026-11-22T10:15:03.120Z`
    time_source: str
    device_pressed_at: str  # the device's own pressed_at, as stored text
    misuse: bool
    boot_id: str
    uptime_ms: int
    clock_synced: bool


def in_own_transaction(db):
    """A `write` for accept_*: run the write in a transaction of its own on *db* (the hub's
    serving processes use the group writer instead: hub.db.write)."""
    def write(fn):
        with db.atomic():
            return fn(db)
    return write


def accept_batch(db, batch, received, write=None):
    """Store a validated PressBatch received at *received* (hub clock), reading with *db*
    and writing through *write* (see in_own_transaction); (inserted, duplicates, Held).
    Raises store.SeqConflict or store.SeqTooFar."""
    skews = _earlier_boot_skews(db, batch)
    placed = []
    for press in batch.presses:
        when, source = place_in_time(press, batch.boot_id, batch.uptime_ms, received, skews)
        text = press.pressed_at_text if when is press.pressed_at else format_utc(when)
        placed.append(PlacedPress(
            press.seq, press.id, press.mood, when, text, source, press.pressed_at_text,
            press.misuse, press.boot_id, press.uptime_ms, press.clock_synced,
        ))
    outcome = (write or in_own_transaction(db))(lambda wdb: store.write_presses(
        wdb, batch.device_id, placed, received, batch.state, batch.buffer_id))
    if isinstance(outcome, store.SeqConflict):  # raised once its count is committed
        raise outcome
    return outcome


def _earlier_boot_skews(db, batch):
    """{boot_id: timedelta}: the clock skews measured in the boots of the batch's presses
    other than its own (rule 3); no query for a batch of one boot, the usual case."""
    boots = {press.boot_id for press in batch.presses if press.boot_id != batch.boot_id}
    if not boots:
        return {}
    return {boot: timedelta(milliseconds=skew_ms)
            for boot, skew_ms in reads.boot_skews(db, batch.device_id, boots).items()}


def accept_heartbeat(db, beat, received, write=None):
    """Record a heartbeat; what the hub holds of the device (Held)."""
    return (write or in_own_transaction(db))(
        lambda wdb: store.write_heartbeat(wdb, beat, received))
