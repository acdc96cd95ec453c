"""End to end, real processes on 127.0.0.1: `kiosk run --simulate` → fault proxy → `hub serve`.

While presses flow, the kiosk is killed with SIGKILL and restarted, the hub is stopped and
started, and the proxy switches between faults. At the end the hub holds exactly the
kiosk's presses: seqs 1..N, no gaps, no duplicates, the same ids and moods.
SYNC_FAULT_PRESSES (default 300) sets how many presses the run lasts for.
"""

import os
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from kiosk.store import PressBuffer, StoreError
from tests.faultproxy import FaultProxy
from tests.support import wait_until
from tests.sync.processes import HubProcess, KioskProcess

pytestmark = pytest.mark.slow

PRESSES = int(os.environ.get("SYNC_FAULT_PRESSES", "300"))
RATE = 1200  # presses per minute: 20 a second
PHASES = ["pass", "kill", "cut", "503", "hub-restart", "kill", "drop", "delay", "truncate",
          "kill", "random", "reset", "hub-restart", "kill"]
THREE_YEARS_S = 3 * 365 * 86400


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(tmp_path)
    yield hub
    hub.stop()


class KioskBuffer:
    """Reads the kiosk's buffer file while the daemon runs (WAL: never blocks it)."""

    def __init__(self, data_dir):
        self.data_dir = data_dir

    def _read(self, what):
        try:
            buffer = PressBuffer(self.data_dir, readonly=True)
        except (StoreError, sqlite3.OperationalError):
            return None  # the daemon has not created it yet (or is creating it right now)
        try:
            return what(buffer)
        finally:
            buffer.close()

    def recorded(self):
        return self._read(lambda b: b.recorded_total()) or 0

    def status(self):
        return self._read(lambda b: b.status())

    def presses(self):
        return self._read(lambda b: [tuple(r) for r in b.conn.execute(
            "SELECT seq, id, mood FROM presses ORDER BY seq")])


def test_every_press_reaches_the_hub_once_through_kills_hub_restarts_and_faults(tmp_path, hub):
    token = hub.add_device("kiosk-e2e")
    hub.start()
    with FaultProxy(hub.port, delay_s=0.5, retry_after=1) as proxy:
        kiosk = KioskProcess(tmp_path, "kiosk-e2e", proxy.url, token, sync_interval_s=0.5)
        buffer = KioskBuffer(kiosk.data_dir)
        kiosk.start(RATE)
        kills = restarts = 0
        try:
            phase = 0
            while phase < len(PHASES) or buffer.recorded() < PRESSES:
                fault = PHASES[phase % len(PHASES)]
                phase += 1
                used = sum(proxy.counts.values())
                if fault == "kill":
                    kiosk.kill()  # SIGKILL: mid-press, mid-batch, whatever it was doing
                    kiosk.start(RATE)
                    kills += 1
                elif fault == "hub-restart":
                    hub.stop()
                    restarts += 1
                elif fault == "random":
                    proxy.randomly({"pass": 0.4, "cut": 0.2, "503": 0.1, "drop": 0.1,
                                    "delay": 0.1, "truncate": 0.1}, seed=phase)
                else:
                    proxy.set(fault)
                before = buffer.recorded()
                wait_until(lambda before=before: buffer.recorded() >= before + 20, timeout=30,
                           message=f"presses to keep coming during {fault}")
                if fault != "kill":  # the kiosk has met the fault (it syncs every 0.5 s)
                    wait_until(lambda used=used: sum(proxy.counts.values()) >= used + 2,
                               timeout=30, message=f"the kiosk to try through {fault}")
                assert kiosk.alive(), kiosk.log.read_text()[-3000:]
                if fault == "hub-restart":
                    hub.start()
                proxy.set("pass")
                wait_until(lambda: buffer.status()["last_sync_error"] is None, timeout=30,
                           message=f"the kiosk to sync again after {fault}")
            # Stop pressing (a restart with --simulate 0), heal the network, let it drain.
            kiosk.kill()
            kiosk.start(0)
            recorded = buffer.recorded()
            wait_until(lambda: buffer.status()["queued"] == 0, timeout=90,
                       message="the kiosk's queue to drain")
            status = kiosk.status()
        finally:
            kiosk.kill()
    assert kills >= 2 and restarts >= 1
    log = kiosk.log.read_text()
    assert "Traceback" not in log and token not in log
    assert proxy.counts["cut"] >= 1 and proxy.counts["503"] >= 1
    assert status["recorded_total"] == recorded and status["queued"] == 0
    assert status["last_sync_error"] is None and status["parked"] == 0

    stored = hub.presses(device="kiosk-e2e")
    seqs = [p["seq"] for p in stored]
    assert sorted(seqs) == list(range(1, recorded + 1))  # no gaps, no duplicates
    kiosk_presses = buffer.presses()
    assert [s for s, _, _ in kiosk_presses] == list(range(1, recorded + 1))
    assert sorted((p["seq"], p["id"], p["mood"]) for p in stored) == kiosk_presses


def test_a_kiosk_clock_wrong_by_years_still_puts_presses_in_the_right_hour(tmp_path, hub):
    token = hub.add_device("kiosk-clock")
    hub.start()
    kiosk = KioskProcess(tmp_path, "kiosk-clock", hub.url, token, sync_interval_s=0.5,
                         extra_env={"KIOSK_FAKE_CLOCK_OFFSET_S": str(-THREE_YEARS_S)})
    buffer = KioskBuffer(kiosk.data_dir)
    began = datetime.now(UTC)
    kiosk.start(RATE)
    try:
        wait_until(lambda: buffer.recorded() >= 40, timeout=30, message="40 presses")
        kiosk.kill()
        kiosk.start(0)
        recorded = buffer.recorded()
        wait_until(lambda: buffer.status()["queued"] == 0, timeout=60, message="the drain")
        wait_until(lambda: buffer.status()["clock_skew_s"] is not None, timeout=30,
                   message="an answer with server_time")
        status = kiosk.status()
    finally:
        kiosk.kill()
    ended = datetime.now(UTC)
    assert status["clock_skew_s"] == pytest.approx(-THREE_YEARS_S, abs=60)

    stored = hub.presses(device="kiosk-clock")
    assert len(stored) == recorded
    for press in stored:
        assert press["time_source"] == "uptime"
        device_time = _parse(press["device_pressed_at"])
        assert device_time < began - timedelta(days=3 * 365 - 2)  # the kiosk's wrong clock
        placed = _parse(press["pressed_at"])
        assert began - timedelta(seconds=5) <= placed <= ended + timedelta(seconds=5)
    # The hour rows count them in the hub's current local hour(s), not three years ago.
    hours = hub.hourly(began, ended)
    assert sum(h["total"] for h in hours) == recorded


def _parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

