"""Faults survived by real processes on loopback: `kiosk run --simulate` and `hub serve`.

Reduced in `make test`; full sizes in `make faults` (FAULTS_FULL=1). Each test ends with the
final invariant of tests/faults/helpers.py and records its figures for docs/reliability.md.
"""

import json
import random
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime

import pytest
import requests

from tests.faults.figures import record, scale
from tests.faults.helpers import (
    check_invariant,
    drain,
    hub_seqs,
    kill_hub,
    rollups_recomputed,
    rows,
)
from tests.support import wait_until
from tests.sync.processes import HUB, KIOSK, HubProcess, KioskProcess, _env

pytestmark = pytest.mark.slow
STORM = 1200  # presses a minute, the most --simulate allows


_started = []


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(tmp_path)
    yield hub
    while _started:  # a failed test leaves no kiosk behind
        _started.pop().kill()
    if hub.process is not None and hub.process.poll() is None:
        hub.stop()


def _kiosk(tmp_path, hub, device_id, **extra_env):
    kiosk = KioskProcess(tmp_path, device_id, hub.url, hub.add_device(device_id),
                         sync_interval_s=0.3, extra_env=extra_env)
    _started.append(kiosk)
    return kiosk


def _recorded(kiosk):
    """The kiosk's recorded_total; 0 while its buffer does not exist yet."""
    result = subprocess.run([KIOSK, "status", "--config", str(kiosk.config), "--json"],
                            capture_output=True, text=True, timeout=30, env=kiosk.env)
    return json.loads(result.stdout)["recorded_total"] if result.returncode == 0 else 0


def test_kiosk_sigkill_during_press_storms_and_clock_jumps(hub, tmp_path):
    """kill -9 the kiosk mid-storm, round after round, its wall clock jumping between rounds
    (KIOSK_FAKE_CLOCK_OFFSET_S): every press recorded reaches the hub once."""
    hub.start()
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")
    rand = random.Random(1)
    rounds = scale(4, 50)
    offsets = [0, -86400 * 400, 3600, -7200, 86400 * 30, 0]
    started = time.monotonic()
    for n in range(rounds):
        kiosk.env["KIOSK_FAKE_CLOCK_OFFSET_S"] = str(offsets[n % len(offsets)])
        before = _recorded(kiosk) if n else 0
        kiosk.start(rate=STORM)
        wait_until(lambda before=before: _recorded(kiosk) >= before + 3, timeout=30,
                   message="presses in this round")
        time.sleep(rand.uniform(0, 0.4))  # kill at a random point of the storm
        kiosk.kill()
    kiosk.env.pop("KIOSK_FAKE_CLOCK_OFFSET_S")
    figures = check_invariant(hub, [kiosk], tmp_path)
    sources = dict(rows(hub.db, "SELECT time_source, count(*) FROM presses GROUP BY 1"))
    # A jumped wall clock never moves a press placed by uptime away from when it happened.
    began = datetime.fromtimestamp(time.time() - (time.monotonic() - started) - 60, UTC)
    placed = rows(hub.db, "SELECT min(pressed_at), max(pressed_at) FROM presses"
                  " WHERE time_source = 'uptime'")[0]
    if placed[0]:
        assert placed[0] >= began.strftime("%Y-%m-%dT%H:%M:%S"), placed
    record("kiosk", "SIGKILL during press storms, wall clock jumping", faults=rounds,
           seconds=round(time.monotonic() - started, 1), **figures,
           note=f"time sources {sources}")


def test_corrupt_buffer_file(hub, tmp_path):
    """A buffer that is garbage when the daemon starts is set aside; presses go on above the
    seq mark. Everything synced before stays; nothing recorded after is lost."""
    hub.start()
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")
    allowed = set()
    rounds = scale(2, 5)
    for _ in range(rounds):
        kiosk.start(rate=STORM)
        wait_until(lambda: len(hub_seqs(hub, "kiosk-1")) >= 10, timeout=30,
                   message="presses synced")
        kiosk.stop()
        drain(hub, kiosk)
        last = _recorded(kiosk)
        buffer = kiosk.data_dir / "buffer.db"
        for extra in kiosk.data_dir.glob("buffer.db-*"):
            extra.unlink()
        buffer.write_bytes(b"garbage, not SQLite " * 512)
        kiosk.start(rate=STORM)
        wait_until(lambda last=last: max(hub_seqs(hub, "kiosk-1")) > last, timeout=30,
                   message="presses after the corrupt buffer")
        kiosk.stop()
        first_new = min(s for s in hub_seqs(hub, "kiosk-1") if s > last)
        allowed |= set(range(last + 1, first_new))
    figures = check_invariant(hub, [kiosk], tmp_path, allowed_gaps={"kiosk-1": allowed})
    assert list(kiosk.data_dir.glob("buffer.db.corrupt-*"))
    assert "Traceback" not in kiosk.log.read_text()
    record("kiosk", "corrupt buffer file at start", faults=rounds, **figures,
           note=f"{len(allowed)} seqs reserved and skipped by design")


def test_hub_sigkill_and_restart_under_load(hub, tmp_path):
    """Two kiosks storm while the hub is killed -9 (master and workers) or restarted
    gracefully, round after round: no partial batch, no rollup drift, nothing lost."""
    hub.start()
    kiosks = [_kiosk(tmp_path, hub, f"kiosk-{n}") for n in (1, 2)]
    for kiosk in kiosks:
        kiosk.start(rate=STORM)
    rand = random.Random(2)
    rounds = scale(4, 30)
    started = time.monotonic()
    try:
        for n in range(rounds):
            count = rows(hub.db, "SELECT count(*) FROM presses")[0][0]
            wait_until(lambda count=count: rows(hub.db, "SELECT count(*) FROM presses")[0][0]
                       > count, timeout=30, message="ingest under way")
            time.sleep(rand.uniform(0, 0.3))
            if n % 2 == 0:
                kill_hub(hub)
            else:
                hub.stop()
            # What a reader sees between two lives of the hub: whole batches, consistent rollups.
            stored, recomputed = rollups_recomputed(hub, tmp_path)
            assert stored == recomputed, f"rollups drifted after round {n}"
            hub.start()
    finally:
        for kiosk in kiosks:
            kiosk.stop()
    figures = check_invariant(hub, kiosks, tmp_path)
    log = hub.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    record("hub", "SIGKILL (master and workers) and graceful restarts during ingest",
           faults=rounds, seconds=round(time.monotonic() - started, 1), **figures)


def test_database_locked_by_a_long_reader_and_a_held_write_lock(hub, tmp_path):
    """A long read transaction does not stop ingest (WAL); a write lock held past the 5 s
    busy timeout gives 503 with Retry-After, and the kiosk retries until all is stored."""
    hub.start()
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")
    kiosk.start(rate=STORM)
    reader = sqlite3.connect(hub.db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM presses").fetchone()
    count = len(hub_seqs(hub, "kiosk-1"))
    wait_until(lambda: len(hub_seqs(hub, "kiosk-1")) > count + 5, timeout=30,
               message="ingest during a long read")
    reader.execute("COMMIT")
    holds = scale(1, 3)
    answers = []
    for _ in range(holds):
        writer = sqlite3.connect(hub.db, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        probe = threading.Thread(target=lambda: answers.append(requests.post(
            hub.url + "/api/v1/presses", timeout=30, json={"device_id": "nobody"},
            headers={"Authorization": "Bearer " + kiosk_token(kiosk)})))
        probe.start()
        probe.join(timeout=30)
        time.sleep(0.5)
        writer.execute("ROLLBACK")
        writer.close()
    kiosk.stop()
    for answer in answers:
        # The token is checked first: looking it up reads, so the lock on writes lets it
        # through, and the refusal is counted in /metrics, which writes: 503 or the 403.
        assert answer.status_code in (403, 503), answer.text
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] == "5"
            assert answer.json()["error"]["code"] == "unavailable"
    figures = check_invariant(hub, [kiosk], tmp_path)
    busy = sum(answer.status_code == 503 for answer in answers)
    assert "database is busy" in hub.log.read_text() or busy == 0
    record("hub", "database locked: a long reader, then a write lock held past busy_timeout",
           faults=1 + holds, **figures, note=f"{busy} of {holds} probes answered 503")


def kiosk_token(kiosk):
    return (kiosk.dir / "token").read_text().strip()


def test_backup_under_load_restores_to_an_identical_database(hub, tmp_path):
    """`hub backup` while two kiosks storm: each copy is consistent (rollups = recomputation),
    and a copy taken once the kiosks are done, restored as docs/hub.md says, serves exactly
    the same presses and rollups."""
    hub.start()
    kiosks = [_kiosk(tmp_path, hub, f"kiosk-{n}") for n in (1, 2)]
    for kiosk in kiosks:
        kiosk.start(rate=STORM)
    copies = scale(3, 15)
    (tmp_path / "backups").mkdir()
    for n in range(copies):
        wait_until(lambda n=n: rows(hub.db, "SELECT count(*) FROM presses")[0][0] > 20 * n,
                   timeout=30, message="presses between backups")
        dest = tmp_path / "backups" / f"copy-{n}.db"
        subprocess.run([HUB, "--db", str(hub.db), "backup", str(dest)], check=True,
                       capture_output=True, env=_env(), timeout=60)
        assert rows(dest, "PRAGMA integrity_check") == [("ok",)]
        sums = rows(dest, "SELECT coalesce(sum(n1+n2+n3+n4+m1+m2+m3+m4), 0) FROM rollups")
        assert sums == rows(dest, "SELECT count(*) FROM presses"), f"copy {n}: rollups torn"
    for kiosk in kiosks:
        kiosk.stop()
    figures = check_invariant(hub, kiosks, tmp_path)
    final = tmp_path / "backups" / "final.db"
    subprocess.run([HUB, "--db", str(hub.db), "backup", str(final)], check=True,
                   capture_output=True, env=_env(), timeout=60)
    hub.stop()
    table = ("SELECT * FROM presses ORDER BY device_id, seq",
             "SELECT * FROM rollups ORDER BY location_id, hour_start_utc")
    live = [rows(hub.db, sql) for sql in table]
    # Restore: stop the hub, copy the backup over the database, init-db, start.
    for suffix in ("-wal", "-shm"):
        (hub.db.parent / (hub.db.name + suffix)).unlink(missing_ok=True)
    hub.db.write_bytes(final.read_bytes())
    hub.cli("init-db")
    hub.start()
    assert [rows(hub.db, sql) for sql in table] == live
    assert len(hub.presses()) == len(live[0])
    record("hub", "hub backup under load, restored", faults=copies + 1, **figures)


def test_network_faults_between_kiosks_and_hub(hub, tmp_path):
    """Kiosks storm through the fault proxy, which drops, delays, cuts (the hub committed, the
    answer is lost), resets, truncates and answers 503 at random: each press arrives once."""
    from tests.faultproxy import FaultProxy

    hub.start()
    target = scale(150, 10000)
    count = scale(2, 8)
    with FaultProxy(hub.port, delay_s=0.3, retry_after=1) as proxy:
        proxy.randomly({"pass": 0.4, "drop": 0.1, "delay": 0.1, "cut": 0.15, "reset": 0.1,
                        "truncate": 0.1, "503": 0.05}, seed=7)
        kiosks = [KioskProcess(tmp_path, f"kiosk-{n}", proxy.url, hub.add_device(f"kiosk-{n}"),
                               sync_interval_s=0.3) for n in range(count)]
        _started.extend(kiosks)
        started = time.monotonic()
        for kiosk in kiosks:
            kiosk.start(rate=STORM)
        wait_until(lambda: sum(_recorded(k) for k in kiosks) >= target, timeout=900,
                   interval=1, message=f"{target} presses recorded")
        for kiosk in kiosks:
            kiosk.stop()
        # Drain through the proxy, still faulty.
        for kiosk in kiosks:
            drain(hub, kiosk, timeout=300)
        faults = sum(n for fault, n in proxy.counts.items() if fault != "pass")
        counts = dict(proxy.counts)
    figures = check_invariant(hub, kiosks, tmp_path)
    assert counts.get("cut", 0) >= 1
    record("network", "fault proxy: drop, delay, cut, reset, truncate, 503 at random",
           faults=faults, seconds=round(time.monotonic() - started, 1), **figures,
           note=", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
