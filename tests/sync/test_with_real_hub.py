"""The sync loop against the real hub app (in-process server), also through the fault proxy."""

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from hub import alerts
from hub.app import create_app
from hub.store import Database, registry
from hub.store.reads import silent_devices
from hub.times import format_utc
from kiosk import __version__
from kiosk.hub_client import HubClient
from kiosk.sync import SyncLoop
from tests.faultproxy import FaultProxy
from tests.sync.fakes import FakeTime, Identity, MemoryBuffer, config, make_press

CREATED = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def real_hub(tmp_path):
    """(url port, token, db) of a real hub app served on 127.0.0.1."""
    path = tmp_path / "hub.db"
    db = Database(path)
    db.migrate(CREATED)
    registry.ensure_secret_key(db)
    registry.add_location(db, "ams", "Amsterdam", "Europe/Amsterdam", None, CREATED)
    token = registry.add_device(db, "kiosk-1", "ams", CREATED)
    server = make_server("127.0.0.1", 0, create_app({"DATABASE": str(path)}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_port, token, db
    server.shutdown()
    db.close()


def stored(db):
    return [tuple(r) for r in db.rows("SELECT seq, id, mood FROM presses ORDER BY seq")]


def counter(db, name):
    rows = db.rows("SELECT value FROM counters WHERE name = ?", (name,))
    return rows[0][0] if rows else 0


def test_answers_lost_after_commit_are_resent_and_counted_once(real_hub):
    port, token, db = real_hub
    buffer = MemoryBuffer(make_press(seq) for seq in range(1, 1001))
    fake_time = FakeTime()
    with FaultProxy(port) as proxy:
        cfg = config(proxy.url, token=token, batch_size=100)
        loop = SyncLoop(cfg, buffer=buffer, client=HubClient(proxy.url, token, timeout=(2, 5)),
                        identity=Identity(), wall_clock=fake_time.wall_clock,
                        monotonic=fake_time.monotonic, rand=random.Random(1))
        proxy.randomly({"pass": 0.4, "cut": 0.3, "truncate": 0.1, "503": 0.1, "drop": 0.1},
                       seed=11)
        for _ in range(400):
            fake_time.advance(loop.step())
            if len(buffer.synced) == 1000:
                break
        loop.client.close()
    assert proxy.counts["cut"] > 3 and proxy.counts["pass"] > 5
    assert sorted(buffer.synced) == list(range(1, 1001))
    rows = stored(db)
    assert [r[0] for r in rows] == list(range(1, 1001))
    assert rows == [(p["seq"], p["id"], p["mood"]) for _, p in sorted(buffer.rows.items())]
    assert counter(db, "presses_ingested") == 1000
    assert counter(db, "presses_duplicate") > 0  # resends happened and were recognised


def test_a_press_the_real_hub_refuses_is_parked_and_the_rest_arrive(real_hub):
    port, token, db = real_hub
    presses = [make_press(seq) for seq in range(1, 41)]
    presses[16]["mood"] = 9  # seq 17: a kiosk bug the hub refuses
    buffer = MemoryBuffer(presses)
    cfg = config(f"http://127.0.0.1:{port}", token=token)
    loop = SyncLoop(cfg, buffer=buffer, identity=Identity(), rand=random.Random(1))
    # held_through stops at the refused 17: what was synced above it when the hub said so
    # is sent once more (duplicates), then the loop rests.
    steps = [loop.step() for _ in range(3)]
    assert steps[-1] == pytest.approx(30, abs=1)
    assert list(buffer.parked_rows) == [17]
    assert "mood" in buffer.parked_rows[17]
    assert [r[0] for r in stored(db)] == [s for s in range(1, 41) if s != 17]
    loop.client.close()


def test_revoked_token_on_the_real_hub_is_an_auth_error(real_hub):
    port, token, db = real_hub
    buffer = MemoryBuffer([make_press(1)])
    cfg = config(f"http://127.0.0.1:{port}", token="not-" + token)
    loop = SyncLoop(cfg, buffer=buffer, identity=Identity(), rand=random.Random(1))
    assert loop.step() == 300
    assert buffer.meta["hub_auth_error"].startswith("HTTP 401 unauthorized")
    assert token not in buffer.meta["hub_auth_error"]
    loop.client.close()


def test_one_request_per_interval_keeps_the_real_hub_informed(real_hub):
    port, token, db = real_hub
    buffer = MemoryBuffer()
    fake_time = FakeTime()
    ahead = timedelta(seconds=90)  # the kiosk's clock is 90 s ahead of the hub's
    cfg = config(f"http://127.0.0.1:{port}", token=token, sync_interval_s=60)
    client = HubClient(cfg.hub_url, token)
    paths = []
    post = client.post
    client.post = lambda path, body: paths.append(path) or post(path, body)
    loop = SyncLoop(cfg, buffer=buffer, client=client, identity=Identity(),
                    wall_clock=lambda: datetime.now(UTC) + ahead,
                    monotonic=fake_time.monotonic, rand=random.Random(1))
    for minute in range(3):
        buffer.add(2 * minute + 1, 2 * minute + 2)
        assert loop.step() == 60
        fake_time.advance(60)
    assert paths == ["/api/v1/presses"] * 3  # no separate heartbeat
    assert [r[0] for r in stored(db)] == list(range(1, 7))
    state = db.row("SELECT * FROM device_state WHERE device_id = 'kiosk-1'")
    assert state["last_heartbeat_at"] == state["last_batch_at"] == state["last_seen_at"]
    assert (state["queued"], state["oldest_queued_at"]) == (0, None)
    assert state["version"] == __version__ and state["clock_synced"] == 1
    assert state["clock_skew_ms"] == pytest.approx(90_000, abs=2000)
    assert buffer.meta["clock_skew_s"] == pytest.approx(90, abs=2)
    # The silent-device rule hears the kiosk through its batches alone.
    now = datetime.now(UTC)
    assert silent_devices(db, format_utc(now - timedelta(minutes=15))) == 0
    assert [e for e in alerts.evaluate(db, now) if e[0] == "alert.raised"] == []
    loop.step()  # idle now: the next interval's heartbeat goes alone
    assert paths[-1] == "/api/v1/heartbeat"
    loop.client.close()
