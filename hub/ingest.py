"""Accepting what kiosks send: place each press in time, then store the batch."""

from dataclasses import dataclass
from datetime import datetime

from hub.store import ingest as store
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


def accept_batch(db, batch, received):
    """Store a validated PressBatch received at *received* (hub clock); (inserted, duplicates)."""
    placed = []
    for press in batch.presses:
        when, source = place_in_time(press, batch.boot_id, batch.uptime_ms, received)
        text = press.pressed_at_text if when is press.pressed_at else format_utc(when)
        placed.append(PlacedPress(
            press.seq, press.id, press.mood, when, text, source, press.pressed_at_text,
            press.misuse, press.boot_id, press.uptime_ms, press.clock_synced,
        ))
    return store.insert_presses(db, batch.device_id, placed, received, batch.state)


def accept_heartbeat(db, beat, received):
    store.record_heartbeat(db, beat, received)
