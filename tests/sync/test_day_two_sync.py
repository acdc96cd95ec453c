"""Day-two faults of sync, with the kiosk's real PressBuffer: a captive portal, a replaced
card, a hub restored from a backup. Each used to lose presses with no error anywhere."""

import random
import uuid
from datetime import timedelta

import pytest

from kiosk.hub_client import HubClient
from kiosk.store import Press, PressBuffer
from kiosk.sync import SyncLoop
from tests.sync.fakes import BOOT, START, CaptivePortal, FakeTime, Identity, config, make_press


@pytest.fixture
def store(tmp_path):
    buffer = PressBuffer(tmp_path / "card", device_id="kiosk-1")
    yield buffer
    buffer.close()


def record(store, count):
    ids = []
    for i in range(count):
        press_id = str(uuid.uuid4())
        store.record(Press(mood=3, pressed_at=START + timedelta(seconds=i), uptime_ms=1000 * i,
                           boot_id=BOOT, clock_synced=True, id=press_id))
        ids.append(press_id)
    return ids


def loop_for(url, store, fake_time=None):
    fake_time = fake_time or FakeTime()
    cfg = config(url)
    return SyncLoop(cfg, buffer=store, client=HubClient(url, cfg.token, timeout=(1, 2)),
                    identity=Identity(), wall_clock=fake_time.wall_clock,
                    monotonic=fake_time.monotonic, rand=random.Random(3))


def sync_all(loop, limit=50):
    """Step until the loop rests (it returns 0 while it has more to send)."""
    for _ in range(limit):
        if loop.step() > 0:
            return
    raise AssertionError("the sync loop never rested")


def hub_ids(hub):
    return {seq: press["id"] for seq, press in hub.presses.items()}


@pytest.mark.parametrize("redirect", [False, True], ids=["200-html", "302"])
def test_a_captive_portal_is_never_a_delivery(store, redirect):
    record(store, 20)
    portal = CaptivePortal(redirect=redirect)
    loop = loop_for(portal.url, store)
    try:
        assert loop.step() > 0  # backing off, not done
    finally:
        loop.client.close()
        portal.close()
    status = store.status()
    assert status["queued"] == 20 and store.highest_synced() is None
    error = status["last_sync_error"]
    assert error.endswith("not the hub? captive portal?")
    if redirect:
        assert error.startswith("hub answered 302 redirect to http://portal.example/login")
        assert all(method == "POST" for method, _ in portal.requests)  # never followed
    else:
        assert error.startswith("hub answered 200 text/html")


def test_a_json_answer_that_does_not_count_every_press_is_not_a_delivery(hub, store):
    record(store, 5)
    hub.script = [(200, {}, {"inserted": 1, "duplicates": 0})]
    fake_time = FakeTime()
    loop = loop_for(hub.url, store, fake_time)
    try:
        fake_time.advance(loop.step())
        assert store.status()["queued"] == 5
        assert "counting 1 + 0 of 5 presses" in store.status()["last_sync_error"]
        sync_all(loop)  # the real hub answers next: all of them arrive
    finally:
        loop.client.close()
    assert sorted(hub.presses) == [1, 2, 3, 4, 5]
    assert store.status()["last_sync_error"] is None


def test_a_replaced_card_is_numbered_on_above_the_hub_and_every_press_arrives(hub, store):
    """The old card sent 1-50; a new card of the same device starts at 1 again."""
    old = {seq: make_press(seq) | {"id": str(uuid.uuid4())} for seq in range(1, 51)}
    hub.presses.update(old)
    new_ids = record(store, 30)
    loop = loop_for(hub.url, store)
    try:
        sync_all(loop)
    finally:
        loop.client.close()
    ids = hub_ids(hub)
    assert {seq: ids[seq] for seq in old} == {seq: p["id"] for seq, p in old.items()}
    assert sorted(ids[seq] for seq in range(51, 81)) == sorted(new_ids)
    assert len(ids) == 80
    status = store.status()
    assert status["queued"] == 0 and status["recorded_total"] == 80
    assert status["renumbered"]["presses"] == 30
    later = store.record(Press(mood=4, pressed_at=START, uptime_ms=1, boot_id=BOOT,
                               clock_synced=True))
    assert later == 81  # numbering goes on above the renumbered presses


def test_the_old_card_back_with_unsent_presses_is_renumbered_too(hub, store, tmp_path):
    """After the swap the new card holds 51-80; the old card comes back with 51-60 unsent."""
    new_card = {seq: make_press(seq) | {"id": str(uuid.uuid4())} for seq in range(1, 81)}
    hub.presses.update(new_card)
    for seq in range(1, 51):
        store.conn.execute("INSERT INTO presses (seq, id, mood, pressed_at, boot_id, uptime_ms,"
                           " clock_synced, misuse, synced_at) VALUES (?, ?, 3, ?, ?, 0, 1, 0,"
                           " ?)", (seq, new_card[seq]["id"], "2026-11-22T10:00:00.000Z", BOOT,
                                   "2026-11-22T10:00:00.000Z"))
    unsent = record(store, 10)  # seqs 51-60, never accepted
    loop = loop_for(hub.url, store)
    try:
        sync_all(loop)
    finally:
        loop.client.close()
    ids = hub_ids(hub)
    assert len(ids) == 90 and sorted(ids[seq] for seq in range(81, 91)) == sorted(unsent)
    assert {seq: ids[seq] for seq in new_card} == {s: p["id"] for s, p in new_card.items()}


def test_a_hub_restored_from_a_backup_gets_the_presses_it_lost_again(hub, store):
    """Backup at 5 presses, 6-13 synced after it, restore: the hub holds 1-5 only; the kiosk
    sends 14-21 and, told held_through 5, sends 6-13 again (and 14-21 as duplicates)."""
    ids = record(store, 13)
    loop = loop_for(hub.url, store)
    try:
        sync_all(loop)
        for seq in range(6, 14):  # the restore
            del hub.presses[seq]
        ids += record(store, 8)
        sync_all(loop)
    finally:
        loop.client.close()
    assert [hub.presses[seq]["id"] for seq in range(1, 22)] == ids
    status = store.status()
    assert status["queued"] == 0
    assert status["resent"]["held_through"] == 5 and status["resent"]["presses"] >= 8


def test_a_gap_the_hub_will_never_fill_costs_one_resend_not_a_loop(hub, store):
    """Seqs the kiosk never used (a lost buffer's reserved block) leave held_through below
    the rest for good: the synced presses above it go once more, then never again."""
    record(store, 5)
    store.conn.execute("UPDATE sqlite_sequence SET seq = 1000 WHERE name = 'presses'")
    record(store, 5)  # 1001-1005
    loop = loop_for(hub.url, store)
    try:
        sync_all(loop)
        sent = sum(len(batch) for batch in hub.batches())
        for _ in range(3):
            loop.step()
    finally:
        loop.client.close()
    assert sorted(hub.presses) == [1, 2, 3, 4, 5, 1001, 1002, 1003, 1004, 1005]
    assert sent == 15  # 10, and 1001-1005 once more
    assert sum(len(batch) for batch in hub.batches()) == sent


def test_a_second_restore_to_the_same_held_through_is_repaired_too(hub, store):
    """Two restores from backups that both end at seq 5 (the second backup was taken
    before the kiosk had resent what the first restore lost): both times the kiosk sees
    that the hub lost presses it had accepted, and sends them again."""
    ids = record(store, 13)
    loop = loop_for(hub.url, store)
    try:
        sync_all(loop)
        backup = {seq: hub.presses[seq] for seq in range(1, 6)}
        for restore in range(2):
            hub.presses.clear()
            hub.presses.update(backup)
            ids += record(store, 2)
            sync_all(loop)
            assert [hub.presses[seq]["id"] for seq in sorted(hub.presses)] == ids, restore
    finally:
        loop.client.close()
