"""Faults on real processes, and the final invariant every fault test ends with.

Hub and kiosks are `hub serve` and `kiosk run --simulate` from tests/sync/processes.py, on
127.0.0.1. The invariant: for every kiosk, the hub holds seq 1..N (N = the kiosk's
recorded_total) exactly once; the rollups equal `hub rebuild-rollups` run on a copy; the
database passes `PRAGMA integrity_check`.
"""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess

from tests.support import wait_until
from tests.sync.processes import HUB, _env


def descendants(pid):
    """Every process below *pid* (gunicorn's workers), from /proc."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children = [int(c) for c in f.read().split()]
        except FileNotFoundError:
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def kill_hub(hub):
    """kill -9 the hub's master and workers at once, as when the machine loses power."""
    process = hub.process
    for pid in [process.pid, *descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)
    hub.process = None
    wait_until(lambda: _port_free(hub.port), timeout=20, message="the hub's port to be free")


def _port_free(port):
    """Nothing listens on *port* (connections in TIME_WAIT do not count: gunicorn binds
    with SO_REUSEADDR)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def rows(path, sql, params=()):
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def hub_seqs(hub, device_id):
    return [row[0] for row in rows(hub.db, "SELECT seq FROM presses WHERE device_id = ?"
                                   " ORDER BY seq", (device_id,))]


def drain(hub, kiosk, timeout=120):
    """Run *kiosk* without pressing until the hub holds all it recorded; its recorded_total."""
    if not kiosk.alive():
        seen = kiosk.log.stat().st_size if kiosk.log.exists() else 0
        kiosk.start(rate=0)
        # SIGTERM before the daemon is up would end it by the default action, not a stop.
        wait_until(lambda: " ready: " in kiosk.log.read_text()[seen:], timeout=30,
                   message=f"{device_of(kiosk)} to start")

    def synced():
        status = kiosk.status()
        n = status["recorded_total"]
        # Nothing queued means the hub confirmed every press; the newest is the last proof.
        return status["queued"] == 0 and (n == 0 or n in hub_seqs(hub, device_of(kiosk))) and (n,)

    (total,) = wait_until(synced, timeout=timeout, interval=0.3,
                          message=f"{device_of(kiosk)} to sync everything")
    assert kiosk.stop() == 0, kiosk.log.read_text()[-2000:]
    return total


def device_of(kiosk):
    """The device id of a KioskProcess (its directory's name)."""
    return kiosk.dir.name


def rollups_recomputed(hub, tmp_path):
    """(rollups as stored, rollups as `hub rebuild-rollups` makes them on a copy)."""
    copy = tmp_path / "recompute.db"
    copy.unlink(missing_ok=True)
    source = sqlite3.connect(hub.db, timeout=30)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    subprocess.run([HUB, "--db", str(copy), "rebuild-rollups"], check=True, capture_output=True,
                   env=_env(), timeout=120)
    sql = "SELECT * FROM rollups ORDER BY location_id, hour_start_utc"
    return rows(hub.db, sql), rows(copy, sql)


def check_invariant(hub, kiosks, tmp_path, allowed_gaps=None, recorded=None):
    """The final invariant; {"presses", "lost", "duplicates"} over all *kiosks*.

    *allowed_gaps* maps a device to seqs that were reserved and never used (a buffer set
    aside as corrupt); they count neither as presses nor as lost. *recorded* maps a device
    to its recorded_total when its buffer is gone already (drained before it went)."""
    figures = {"presses": 0, "lost": 0, "duplicates": 0}
    for kiosk in kiosks:
        device = device_of(kiosk)
        total = (recorded or {}).get(device) or drain(hub, kiosk)
        seqs = hub_seqs(hub, device)
        expected = set(range(1, total + 1)) - set((allowed_gaps or {}).get(device, ()))
        figures["presses"] += len(expected)
        figures["lost"] += len(expected - set(seqs))
        figures["duplicates"] += len(seqs) - len(set(seqs)) + len(set(seqs) - expected)
        assert set(seqs) == expected and len(seqs) == len(set(seqs)), (
            device, total, sorted(expected - set(seqs))[:20], sorted(set(seqs) - expected)[:20])
    stored, recomputed = rollups_recomputed(hub, tmp_path)
    assert stored == recomputed
    assert rows(hub.db, "PRAGMA integrity_check") == [("ok",)]
    return figures


def copy_db(path, dest):
    shutil.copyfile(path, dest)
    return dest


def check_cards(hub, device_id, cards, tmp_path):
    """The final invariant across a card swap: every press recorded on any of *cards* (the
    KioskProcesses of one device, each with its own data_dir) is on the hub exactly once,
    whatever seq it ended up with; {"presses", "lost", "duplicates"}."""
    recorded = []
    for card in cards:
        recorded += [row[0] for row in rows(card.data_dir / "buffer.db", "SELECT id FROM presses")]
    stored = rows(hub.db, "SELECT id, seq FROM presses WHERE device_id = ?", (device_id,))
    ids = [row[0] for row in stored]
    seqs = [row[1] for row in stored]
    figures = {"presses": len(set(recorded)), "lost": len(set(recorded) - set(ids)),
               "duplicates": len(ids) - len(set(ids)) + len(set(ids) - set(recorded))}
    assert len(recorded) == len(set(recorded)), "a press id on two cards"
    assert set(ids) == set(recorded), (figures, sorted(set(recorded) - set(ids))[:5])
    assert len(ids) == len(set(ids)) and len(seqs) == len(set(seqs)), figures
    stored_rollups, recomputed = rollups_recomputed(hub, tmp_path)
    assert stored_rollups == recomputed
    assert rows(hub.db, "PRAGMA integrity_check") == [("ok",)]
    return figures


def track_kiosk(kiosk):
    """*kiosk*, to be killed when the test ends (the `hub` fixture of tests/faults/conftest.py
    does it), so that a failed test leaves no kiosk behind."""
    from tests.faults.conftest import STARTED

    STARTED.append(kiosk)
    return kiosk


def signal_all(pids, number):
    """Send *number* to every process of *pids* that still exists."""
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass
