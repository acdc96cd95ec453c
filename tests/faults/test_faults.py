"""Faults survived by real processes on loopback: `kiosk run --simulate` and `hub serve`.

Reduced in `make test`; full sizes in `make faults` (FAULTS_FULL=1). Each test ends with the
final invariant of tests/faults/helpers.py and records its figures for docs/reliability.md.
"""

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.faults.figures import record, scale
from tests.faults.helpers import (
    check_invariant,
    device_of,
    drain,
    hub_seqs,
    kill_hub,
    rollups_recomputed,
    rows,
    track_kiosk,
)
from tests.support import skip_unless_private_tmpfs, wait_until
from tests.sync.processes import HUB, KIOSK, KioskProcess, _env

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow
STORM = 1200  # presses a minute, the most --simulate allows


def _kiosk(tmp_path, hub, device_id, **extra_env):
    kiosk = KioskProcess(tmp_path, device_id, hub.url, hub.add_device(device_id),
                         sync_interval_s=0.3, extra_env=extra_env)
    return track_kiosk(kiosk)


def _recorded(kiosk):
    """The kiosk's recorded_total; 0 while its buffer does not exist yet."""
    result = subprocess.run([KIOSK, "status", "--config", str(kiosk.config), "--json"],
                            capture_output=True, text=True, timeout=30, env=kiosk.env)
    return json.loads(result.stdout)["recorded_total"] if result.returncode == 0 else 0


def test_kiosk_sigkill_during_press_storms_and_clock_jumps(hub, tmp_path):
    """kill -9 the kiosk mid-storm, round after round, while its wall clock jumps back and
    forth under it (KIOSK_FAKE_CLOCK_OFFSET_FILE, rewritten every 50-150 ms: years back, days
    ahead, as a stale clock stepped by NTP): every press recorded reaches the hub once, and
    each is placed by uptime at when it really happened."""
    hub.start()
    offset = tmp_path / "clock-offset"
    offset.write_text("0\n")
    kiosk = _kiosk(tmp_path, hub, "kiosk-1", KIOSK_FAKE_CLOCK_OFFSET_FILE=str(offset))
    rand = random.Random(1)
    rounds = scale(4, 50)
    offsets = [0, -86400 * 400, 3600, -7200, 86400 * 30, -86400 * 365 * 3]
    jumps = []
    stop = threading.Event()

    def jump():
        while not stop.wait(rand.uniform(0.05, 0.15)):
            value = rand.choice(offsets) + rand.uniform(-60, 60)
            partial = offset.with_name("clock-offset.new")
            partial.write_text(f"{value}\n")
            partial.replace(offset)
            jumps.append(value)

    jumper = threading.Thread(target=jump, daemon=True)
    started = time.monotonic()
    jumper.start()
    try:
        for n in range(rounds):
            before = _recorded(kiosk) if n else 0
            kiosk.start(rate=STORM)
            wait_until(lambda before=before: _recorded(kiosk) >= before + 3, timeout=30,
                       message="presses in this round")
            time.sleep(rand.uniform(0, 0.4))  # kill at a random point of the storm
            kiosk.kill()
    finally:
        stop.set()
        jumper.join(timeout=5)
    offset.write_text("0\n")
    figures = check_invariant(hub, [kiosk], tmp_path)
    sources = dict(rows(hub.db, "SELECT time_source, count(*) FROM presses GROUP BY 1"))
    assert set(sources) == {"uptime"}  # a faked clock is never trusted: placed by uptime
    # However the wall clock jumped, a press placed by uptime lands in the run's real time.
    began = datetime.fromtimestamp(time.time() - (time.monotonic() - started) - 60, UTC)
    placed = rows(hub.db, "SELECT min(pressed_at), max(pressed_at) FROM presses"
                  " WHERE time_source = 'uptime'")[0]
    assert placed[0] >= began.strftime("%Y-%m-%dT%H:%M:%S"), placed
    assert placed[1] <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.999Z"), placed
    device_times = rows(hub.db, "SELECT min(device_pressed_at), max(device_pressed_at)"
                        " FROM presses")[0]
    assert device_times[0][:4] < began.strftime("%Y")  # the jumps really reached the presses
    record("kiosk", "SIGKILL during press storms, wall clock jumping while pressing",
           faults=rounds + len(jumps), seconds=round(time.monotonic() - started, 1),
           **figures, note=f"{rounds} kills, {len(jumps)} clock jumps; time sources {sources}")


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


def test_disk_full_in_data_dir(hub, tmp_path):
    """data_dir on a 4 MiB tmpfs that fills up during a press storm (a private mount namespace,
    so root only): presses are held in memory and stored once there is room, the sync thread
    rides it out, and the hub gets every press once."""
    skip_unless_private_tmpfs(tmp_path)
    hub.start()
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")
    full_s = scale(1, 5)
    started = time.monotonic()
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-m",
         "tests.faults.full_disk_kiosk", str(kiosk.config), str(kiosk.data_dir),
         str(kiosk.log), str(full_s)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=kiosk.env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["storm_exit"] == 0 and result["drain_exit"] == 0
    assert result["tracebacks"] == 0
    daemon_lines = [line for line in result["full_lines"] if "cannot store press" in line]
    assert len(daemon_lines) == 1, result["full_lines"]  # one line, not one per retry
    assert "press(es) kept in memory, retrying" in daemon_lines[0]
    # The buffer went with the namespace: it was drained there, its recorded_total is final.
    figures = check_invariant(hub, [kiosk], tmp_path,
                              recorded={"kiosk-1": result["recorded_total"]})
    record("kiosk", "disk full in data_dir during a press storm (tmpfs)", faults=1,
           seconds=round(time.monotonic() - started, 1), **figures,
           note=f"disk full for {full_s} s of the storm: {result['held']} presses held in "
                f"memory and stored once freed, {result['recorded_while_full']} stored while "
                "full (SQLite found room)")


def test_data_dir_that_cannot_be_created(hub, tmp_path):
    """The daemon starts while its data_dir cannot be opened (a file where its parent should
    be, as when a disk is not there: root ignores permissions); the storm's presses wait in
    memory, nothing is stored or thanked, and once the directory is back they are stored and
    synced, each once, seq going on from the buffer's."""
    hub.start()
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")
    disk, away = kiosk.dir / "disk", kiosk.dir / "disk.away"
    config = kiosk.config.read_text()
    kiosk.config.write_text(config.replace(f'data_dir = "{kiosk.data_dir}"',
                                           f'data_dir = "{disk / "data"}"'))
    kiosk.data_dir = disk / "data"
    away.mkdir()
    rounds = scale(2, 5)
    held = []
    for _ in range(rounds):
        disk.write_text("")  # in the way: data_dir cannot be created
        seen = kiosk.log.stat().st_size if kiosk.log.exists() else 0
        kiosk.start(rate=STORM)
        wait_until(lambda seen=seen: "cannot open the press buffer"
                   in kiosk.log.read_text()[seen:], timeout=30, message="the buffer failure")
        before = _recorded_when_closed(kiosk, away)
        time.sleep(scale(1, 3))  # the storm goes on for this long with nowhere to store it
        assert " ready: " not in kiosk.log.read_text()[seen:]
        disk.unlink()
        away.rename(disk)  # the directory is back
        wait_until(lambda seen=seen: " ready: " in kiosk.log.read_text()[seen:], timeout=30,
                   message="the buffer to open once data_dir is back")
        log = kiosk.log.read_text()[seen:]
        assert "stored press" not in log.split(" ready: ")[0]  # nothing stored before
        held.append(_recorded(kiosk) - before)
        wait_until(lambda before=before: len(hub_seqs(hub, "kiosk-1")) > before + 10,
                   timeout=60, message="presses synced after the fix")
        kiosk.stop()
        disk.rename(away)
    away.rename(disk)
    figures = check_invariant(hub, [kiosk], tmp_path)
    assert min(held) >= 5, f"presses made while data_dir was missing were kept: {held}"
    record("kiosk", "data_dir missing at start, back while running", faults=rounds,
           **figures, note=f"{sum(held)} presses held in memory, then stored")


def _recorded_when_closed(kiosk, away):
    """recorded_total of the buffer that is out of the way (the daemon cannot see it)."""
    from kiosk.store import PressBuffer

    if not (away / "data").exists():
        return 0
    buffer = PressBuffer(away / "data", readonly=True)
    try:
        return buffer.recorded_total()
    finally:
        buffer.close()


def _fill_backlog(kiosk, total):
    """*total* presses in the kiosk's buffer, as the daemon stores them, pressed over the
    last three days while the hub was away (one transaction per 100,000: setup, not fault)."""
    from kiosk.store import INSERT, PressBuffer
    from kiosk.sync import format_utc

    boot = str(uuid.uuid4())
    now = datetime.now(UTC) - timedelta(minutes=10)
    span = timedelta(days=3)
    rand = random.Random(5)
    buffer = PressBuffer(kiosk.data_dir, device_id=device_of(kiosk), max_presses=total)
    try:
        for first in range(1, total + 1, 100_000):
            rows = [(seq, str(uuid.uuid4()), rand.randint(1, 4),
                     format_utc(now - span + span * (seq / total)), boot, seq * 250, 1, 0)
                    for seq in range(first, min(total, first + 99_999) + 1)]
            with buffer.transaction():
                buffer.conn.executemany(INSERT, rows)
    finally:
        buffer.close()


def _hub_count(hub):
    return rows(hub.db, "SELECT count(*) FROM presses")[0][0]


def test_a_long_backlog_waits_out_a_hub_that_is_down(hub, tmp_path):
    """The hub is down while a backlog piles up (1,000,000 presses; 20,000 in make test) and a
    storm goes on: the kiosk keeps every press and backs off; once the hub is back it sends
    everything, each press once, while still recording the storm."""
    backlog = scale(20_000, 1_000_000)
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")  # the hub is not started: nothing listens
    _fill_backlog(kiosk, backlog)
    kiosk.start(rate=STORM)
    wait_until(lambda: "retrying with backoff" in kiosk.log.read_text(), timeout=60,
               message="the kiosk to find the hub away")
    time.sleep(scale(2, 20))  # the hub stays away for this long, the storm goes on
    down = kiosk.status()
    assert down["queued"] == down["recorded_total"] > backlog
    assert "refused" in down["last_sync_error"] or "connect" in down["last_sync_error"]
    hub.start()
    returned = time.monotonic()
    wait_until(lambda: _hub_count(hub) >= down["recorded_total"], timeout=scale(300, 1800),
               interval=1, message="the backlog to reach the hub")
    drained = time.monotonic() - returned
    kiosk.stop()
    figures = check_invariant(hub, [kiosk], tmp_path)
    assert figures["presses"] > down["recorded_total"]  # the storm went on while draining
    record("kiosk", f"hub down for a backlog of {backlog:,} presses, then back", faults=1,
           seconds=round(drained, 1), **figures,
           note=f"backlog drained {drained:.0f} s after the hub returned, storm ongoing")


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
    busy timeout makes a batch wait and then answers 503 with Retry-After, storing nothing,
    while the storming kiosk's own batches wait or retry until all is stored."""
    from tests.hub.helpers import batch, press

    hub.start()
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")
    probe_token = hub.add_device("probe")
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
    for n in range(holds):
        writer = sqlite3.connect(hub.db, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # held for longer than the hub's busy_timeout
        try:
            answers.append(requests.post(
                hub.url + "/api/v1/presses", timeout=30,
                json=batch([press(n + 1)], device_id="probe"),
                headers={"Authorization": f"Bearer {probe_token}"}))
        finally:
            writer.execute("ROLLBACK")
            writer.close()
    kiosk.stop()
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        assert answer.json()["error"]["code"] == "unavailable"
    assert hub_seqs(hub, "probe") == []  # a refused batch stored nothing
    figures = check_invariant(hub, [kiosk], tmp_path)
    assert "database error on POST /api/v1/presses: database is locked" in hub.log.read_text()
    record("hub", "database locked: a long reader, then a write lock held past busy_timeout",
           faults=1 + holds, **figures,
           note=f"{len(answers)} of {holds} batches under the lock answered 503, none stored")


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
        for kiosk in kiosks:
            track_kiosk(kiosk)
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
