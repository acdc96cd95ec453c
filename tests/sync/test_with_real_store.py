"""The sync loop with the kiosk's real PressBuffer (SQLite in a temp data_dir)."""

import random
from collections import Counter
from datetime import timedelta

import pytest

from kiosk.hub_client import HubClient
from kiosk.store import Press, PressBuffer
from kiosk.sync import SyncLoop, open_buffer
from tests.sync.fakes import BOOT, START, FakeTime, Identity, config


@pytest.fixture
def store(tmp_path):
    buffer = PressBuffer(tmp_path, device_id="kiosk-1")
    yield buffer
    buffer.close()


def record(store, count, mood=3):
    for i in range(count):
        store.record(Press(mood=mood, pressed_at=START + timedelta(seconds=i),
                           uptime_ms=1000 * i, boot_id=BOOT, clock_synced=True))


def loop_for(hub, store, fake_time, **overrides):
    cfg = config(hub.url, **overrides)
    hub.server_time = lambda: fake_time.wall_clock() - timedelta(seconds=90)
    return SyncLoop(cfg, buffer=store, client=HubClient(hub.url, cfg.token, timeout=(1, 2)),
                    identity=Identity(), wall_clock=fake_time.wall_clock,
                    monotonic=fake_time.monotonic, rand=random.Random(2))


def test_sync_fills_in_what_kiosk_status_shows(hub, store, tmp_path, monkeypatch):
    monkeypatch.setattr("kiosk.clock.boot_id", lambda: BOOT)  # the fake identity's boot
    fake_time = FakeTime()
    record(store, 1200)
    loop = loop_for(hub, store, fake_time)
    while loop.step() == 0:
        pass
    status = store.status()
    assert status["recorded_total"] == 1200 and status["queued"] == 0
    assert status["oldest_queued_at"] is None
    assert status["last_sync_at"] == "2026-11-22T12:00:00.000Z"
    assert status["last_sync_error"] is None and status["hub_auth_error"] is None
    assert status["clock_skew_s"] == pytest.approx(90, abs=0.5)  # the kiosk runs ahead
    assert sorted(hub.presses) == list(range(1, 1201))
    stored = store.conn.execute("SELECT id, mood, pressed_at FROM presses WHERE seq = 7")
    assert hub.presses[7] == {"seq": 7, **dict(zip(("id", "mood", "pressed_at"),
                                                    stored.fetchone(), strict=True)),
                              "boot_id": BOOT, "uptime_ms": 6000, "clock_synced": True,
                              "misuse": False}


def test_parked_presses_stay_in_the_buffer_and_show_in_status(hub, store, tmp_path):
    fake_time = FakeTime()
    record(store, 20)
    hub.bad_seqs = {5}
    loop = loop_for(hub, store, fake_time)
    # The hub holds 1-4 and 6-20: held_through stops at the parked 5, so the kiosk sends
    # what it had synced above it once more (duplicates), and not again for the same gap.
    def times_sent():
        return Counter(seq for batch in hub.batches() for seq in batch)

    assert loop.step() == 0  # parked 5, and asks to go on at once
    first = times_sent()
    steps = 1
    while loop.step() == 0:
        steps += 1
        assert steps < 5
    again = times_sent() - first
    # 6-10 were synced when the first answer showed the gap; 11-20 went after it.
    assert sorted(again) == list(range(6, 11)) and set(again.values()) == {1}
    sent = len(hub.batches())
    assert loop.step() > 0 and len(hub.batches()) == sent
    loop.client.close()
    store.close()
    reopened = PressBuffer(tmp_path, device_id="kiosk-1")  # survives a restart
    try:
        assert [p["seq"] for p in reopened.parked()] == [5]
        assert "presses[0].mood" in reopened.parked()[0]["reason"]
        status = reopened.status()
        assert status["parked"] == 1 and status["queued"] == 0
        assert reopened.pending(100) == []
    finally:
        reopened.close()


def test_pruning_deletes_old_synced_presses_and_never_unsynced_ones(hub, store):
    fake_time = FakeTime()
    record(store, 30)
    old = fake_time.wall_clock() - timedelta(days=31)
    store.mark_synced(list(range(1, 11)), synced_at=old)  # synced long ago
    store.mark_synced(list(range(11, 21)), synced_at=fake_time.wall_clock())  # just now
    hub.auth_status = 401  # 21-30 stay unsynced, however old they get
    loop = loop_for(hub, store, fake_time, keep_synced_days=30)
    loop.step()
    seqs = [row[0] for row in store.conn.execute("SELECT seq FROM presses ORDER BY seq")]
    assert seqs == list(range(11, 31))
    fake_time.advance(400 * 86400)  # a year later, still no hub
    loop.step()
    seqs = [row[0] for row in store.conn.execute("SELECT seq FROM presses ORDER BY seq")]
    assert seqs == list(range(21, 31))
    assert store.status()["queued"] == 10 and store.status()["recorded_total"] == 30


def test_open_buffer_uses_the_daemons_file(tmp_path, store):
    record(store, 3)
    cfg = config("http://127.0.0.1:1", data_dir=tmp_path)
    other = open_buffer(cfg)
    try:
        assert [p["seq"] for p in other.pending(10)] == [1, 2, 3]
    finally:
        other.close()
