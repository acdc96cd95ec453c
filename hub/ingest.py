"""Accepting what kiosks send: place each press in time, then store the batch."""

from dataclasses import dataclass
from datetime import datetime

from hub.store import ingest as store
from hub.times import place_in_time


@dataclass(frozen=True, slots=True)
class PlacedPress:
    seq: int
    id: str
    mood: int
    placed: datetime
    time_source: str
    device_pressed_at: datetime
    misuse: bool
    boot_id: str
    uptime_ms: int
    clock_synced: bool


def accept_batch(db, batch, received):
    """Store a validated PressBatch received at *received* (hub clock); (inserted, duplicates)."""
    placed = []
    for press in batch.presses:
        when, source = place_in_time(press, batch.boot_id, batch.uptime_ms, received)
        placed.append(PlacedPress(
            press.seq, press.id, press.mood, when, source, press.pressed_at, press.misuse,
            press.boot_id, press.uptime_ms, press.clock_synced,
        ))
    return store.insert_presses(db, batch.device_id, placed, received)


def accept_heartbeat(db, beat, received):
    store.record_heartbeat(db, beat, received)
