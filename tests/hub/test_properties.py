"""Property: whatever order batches arrive in, and however often, rollups equal a count
from the raw presses, and `rebuild-rollups` gives exactly what ingest maintained."""

import tempfile
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.app import create_app
from hub.db import close_connections
from hub.store import Database, registry
from hub.store.rollups import rebuild_rollups
from tests.hub.conftest import FakeClock
from tests.hub.helpers import batch, press

DEVICES = {"k-ams": ("ams", "Europe/Amsterdam"), "k-kol": ("kol", "Asia/Kolkata"),
           "k-stj": ("stj", "America/St_Johns"), "k-cha": ("cha", "Pacific/Chatham")}
# Presses cluster around the instants where local hours are odd: DST changes, day ends.
EDGES = [datetime(2026, 3, 29, 1, tzinfo=UTC), datetime(2026, 10, 25, 1, tzinfo=UTC),
         datetime(2026, 3, 8, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 3, 30, tzinfo=UTC),
         datetime(2026, 11, 21, 18, 30, tzinfo=UTC),
         datetime(2026, 4, 4, 14, tzinfo=UTC), datetime(2026, 9, 26, 14, tzinfo=UTC)]  # Chatham


@st.composite
def press_fields(draw, seq):
    when = draw(st.sampled_from(EDGES)) + timedelta(
        seconds=draw(st.integers(-4 * 3600, 4 * 3600)), milliseconds=draw(st.integers(0, 999)))
    return press(
        seq,
        mood=draw(st.integers(1, 4)),
        pressed_at=when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        boot_id=draw(st.sampled_from(["boot-a", "boot-b"])),
        uptime_ms=draw(st.integers(0, 20_000_000)),
        clock_synced=draw(st.booleans()),
        misuse=draw(st.booleans()),
    )


@st.composite
def deliveries(draw):
    """Batches (device, presses, boot, uptime), shuffled, some sent more than once."""
    batches = []
    for device in draw(st.lists(st.sampled_from(sorted(DEVICES)), min_size=1, max_size=3,
                                unique=True)):
        count = draw(st.integers(1, 30))
        presses = [draw(press_fields(seq)) for seq in range(1, count + 1)]
        cuts = sorted(draw(st.sets(st.integers(1, count), max_size=4)) | {0, count})
        for start, end in zip(cuts, cuts[1:], strict=False):
            chunk = draw(st.permutations(presses[start:end]))
            for _ in range(draw(st.integers(1, 3))):
                batches.append((device, chunk, draw(st.sampled_from(["boot-a", "boot-b"])),
                                draw(st.integers(10_000_000, 20_000_000))))
    return draw(st.permutations(batches))


def recount(db):
    """Rollups counted again from raw presses, independently of the hub's code."""
    counts = defaultdict(lambda: [None] + [0] * 8)
    rows = db.rows("SELECT p.location_id, l.timezone, p.pressed_at, p.mood, p.misuse"
                   " FROM presses p JOIN locations l ON l.id = p.location_id")
    for location_id, timezone, pressed_at, mood, misuse in rows:
        instant = datetime.fromisoformat(pressed_at)
        local = instant.astimezone(ZoneInfo(timezone))
        start = instant - timedelta(minutes=local.minute, seconds=local.second,
                                    microseconds=local.microsecond)
        # Where the clocks changed inside the hour (Chatham's, at :45), the hour starts at
        # the change: walk up to it a second at a time.
        while start.astimezone(ZoneInfo(timezone)).utcoffset() != local.utcoffset():
            start += timedelta(seconds=1)
        bucket = counts[(location_id, start.strftime("%Y-%m-%dT%H:%M:%SZ"))]
        bucket[0] = start.astimezone(ZoneInfo(timezone)).isoformat()
        bucket[mood + 4 * misuse] += 1
    return {key: tuple(value) for key, value in counts.items()}


def rollups(db):
    return {(row[0], row[1]): tuple(row[2:]) for row in db.rows(
        "SELECT location_id, hour_start_utc, hour_start_local, n1, n2, n3, n4, m1, m2, m3, m4"
        " FROM rollups")}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_rollups_equal_a_recount_whatever_the_order_and_repetition(sent):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hub.db"
        db = Database(path)
        db.migrate("2026-01-01T00:00:00.000Z")
        tokens = {}
        for device, (slug, timezone) in DEVICES.items():
            registry.add_location(db, slug, slug, timezone, None, "2026-01-01T00:00:00.000Z")
            tokens[device] = registry.add_device(db, device, slug, "2026-01-01T00:00:00.000Z")
        app = create_app({"DATABASE": str(path), "TESTING": True, "CLOCK": FakeClock()})
        client = app.test_client()
        for device, presses, boot, uptime in sent:
            response = client.post(
                "/api/v1/presses", json=batch(presses, device, boot, uptime),
                headers={"Authorization": f"Bearer {tokens[device]}"})
            assert response.status_code == 200, response.json

        unique = {(device, p["seq"]) for device, presses, _, _ in sent for p in presses}
        assert db.row("SELECT count(*) FROM presses")[0] == len(unique)
        maintained = rollups(db)
        assert maintained == recount(db)
        rebuild_rollups(db)
        assert rollups(db) == maintained
        db.close()
        close_connections(app)
