"""End to end, real processes on 127.0.0.1: `kiosk run --simulate` → fault proxy → `hub serve`.

While presses flow, the kiosk is killed with SIGKILL and restarted, the hub is stopped and
started, and the proxy switches between faults. At the end the hub holds exactly the
kiosk's presses: seqs 1..N, no gaps, no duplicates, the same ids and moods.
SYNC_FAULT_PRESSES (default 300) sets how many presses the run lasts for.
"""

import os
import shutil
import sqlite3
import subprocess
import uuid
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
THREE_DAYS_S = 3 * 86400


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

    def meta(self, key):
        return self._read(lambda b: b.get_meta(key))

    def boot_ids(self):
        """The boots the buffered presses were made in."""
        return self._read(lambda b: {row[0] for row in b.conn.execute(
            "SELECT DISTINCT boot_id FROM presses")})


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


BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


def in_boot(boot_id_file):
    """A command prefix that runs a command with *boot_id_file* bind-mounted over the kernel's
    boot id, in a mount namespace of its own: to the kiosk, a reboot (its uptime goes on)."""
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", *user, "--mount", "--propagation", "private", "sh", "-c",
            f'mount --bind "$0" {BOOT_ID_FILE} && exec "$@"', str(boot_id_file)]


def skip_unless_boot_ids_can_be_faked(tmp_path):
    probe = tmp_path / "probe_boot_id"
    probe.write_text("probe-boot\n")
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    result = subprocess.run([*in_boot(probe), "cat", BOOT_ID_FILE], capture_output=True,
                            text=True, timeout=30)
    if result.stdout.strip() != "probe-boot":
        pytest.skip(f"cannot bind-mount over {BOOT_ID_FILE} here: {result.stderr.strip()}")


def test_presses_of_an_earlier_boot_sent_after_a_reboot_are_placed_by_that_boots_skew(
        tmp_path, hub):
    skip_unless_boot_ids_can_be_faked(tmp_path)
    token = hub.add_device("kiosk-reboot")
    hub.start()
    kiosk = KioskProcess(tmp_path, "kiosk-reboot", hub.url, token, sync_interval_s=0.5,
                         extra_env={"KIOSK_FAKE_CLOCK_OFFSET_S": str(-THREE_DAYS_S)})
    buffer = KioskBuffer(kiosk.data_dir)
    boot_id_file = tmp_path / "boot_id"
    kiosk.wrapper = in_boot(boot_id_file)
    boot_a, boot_b = str(uuid.uuid4()), str(uuid.uuid4())
    boot_id_file.write_text(boot_a + "\n")
    try:
        # Boot A, its clock 3 days behind and never synchronised: the hub measures the skew.
        kiosk.start(0)
        wait_until(lambda: buffer.meta("clock_skew_boot_id") == boot_a,
                   timeout=30, message="the hub to answer boot A")
        kiosk.kill()
        # Still boot A, the hub down: the presses stay in the buffer.
        hub.stop()
        began = datetime.now(UTC)
        kiosk.start(RATE)
        wait_until(lambda: buffer.recorded() >= 40, timeout=30, message="40 presses")
        kiosk.kill()
        ended = datetime.now(UTC)
        recorded = buffer.recorded()
        # The Pi reboots (boot B) and the hub is back: boot A's presses go now.
        boot_id_file.write_text(boot_b + "\n")
        hub.start()
        kiosk.start(0)
        wait_until(lambda: buffer.status()["queued"] == 0, timeout=60, message="the drain")
    finally:
        kiosk.kill()
    assert buffer.boot_ids() == {boot_a}

    stored = hub.presses(device="kiosk-reboot")
    assert len(stored) == recorded
    for press in stored:
        assert press["time_source"] == "skew"
        device_time = _parse(press["device_pressed_at"]) + timedelta(days=3)  # 3 days behind
        placed = _parse(press["pressed_at"])
        for instant in (device_time, placed):
            assert began - timedelta(seconds=5) <= instant <= ended + timedelta(seconds=5)
    # The hour rows count them when they were pressed, not 3 days earlier.
    hours = hub.hourly(began, ended)
    assert sum(h["total"] for h in hours) == recorded


def _parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

