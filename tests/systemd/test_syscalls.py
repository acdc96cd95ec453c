"""The real programs under strace: every system call they make passes their unit's filter.

`SystemCallFilter=` kills (or, with SystemCallErrorNumber=, fails) any call outside the
set; a call that only the running program makes (the kiosk's adjtimex() clock check,
which glibc turns into clock_adjtime) is invisible to `systemd-analyze`. So each program
runs its real work under `strace -f` (kiosk run pressing buttons and syncing, hub serve
answering an ingest, hub backup, hub alerts run), and the set of calls it made must be
inside the set the unit allows, computed from the unit's SystemCallFilter= lines in order
with the groups expanded by `systemd-analyze syscall-filter`.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support import free_port, wait_until

SYSTEMD_DIR = Path(__file__).resolve().parents[2] / "systemd"
BIN = Path(sys.executable).parent
STRACE = shutil.which("strace")
ANALYZE = shutil.which("systemd-analyze")

# SQLite gives a new -wal/-journal file the database's owner with fchown() only when it
# runs as root (the units never do); the tests may run as root.
ROOT_ONLY = {"fchown"}

pytestmark = pytest.mark.skipif(STRACE is None or ANALYZE is None,
                                reason="needs strace and systemd-analyze")


@pytest.fixture(scope="module", autouse=True)
def ptrace_allowed():
    probe = subprocess.run([STRACE, "-o", os.devnull, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()}")


_groups = {}


def expand(name):
    """The system calls of a name or an @group (nested groups expanded)."""
    if not name.startswith("@"):
        return {name}
    if name not in _groups:
        out = subprocess.run([ANALYZE, "syscall-filter", name], capture_output=True,
                             text=True, timeout=30, check=True).stdout
        members = set()
        for line in out.splitlines()[1:]:
            line = line.strip()
            if line and not line.startswith("#"):
                members |= expand(line)
        _groups[name] = members
    return _groups[name]


def allowed_syscalls(unit):
    """systemd's rule: the first SystemCallFilter= decides allow- or deny-list; later
    lines add (plain) or remove (~) in order."""
    allowed = None
    for line in (SYSTEMD_DIR / unit).read_text().splitlines():
        match = re.match(r"\s*SystemCallFilter=(.*)", line)
        if not match:
            continue
        value = match.group(1).strip()
        invert = value.startswith("~")
        names = set().union(*(expand(w) for w in value.lstrip("~").split()))
        if allowed is None:
            assert not invert, f"{unit}: a deny-list filter is not what this test expects"
            allowed = set(expand("@default"))
        allowed = allowed - names if invert else allowed | names
    assert allowed, f"{unit} has no SystemCallFilter="
    return allowed


def syscalls_in(trace):
    names = set()
    for line in trace.read_text().splitlines():
        match = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
        if match:
            names.add(match.group(1))
    return names


def assert_allowed(unit, trace):
    used = syscalls_in(trace)
    assert len(used) > 20, f"strace recorded too little: {sorted(used)}"
    if os.geteuid() == 0:
        used -= ROOT_ONLY
    refused = sorted(used - allowed_syscalls(unit))
    assert not refused, f"{unit} would refuse {refused} (see {trace})"


def traced(trace, argv, env, log):
    return subprocess.Popen([STRACE, "-f", "-qq", "-o", str(trace), *argv], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def traced_pid(trace):
    """The program's pid: the first one strace writes."""
    first = wait_until(lambda: trace.exists() and trace.read_text().split(None, 1),
                       message="strace output")
    return int(first[0])


def stop(proc, trace):
    os.kill(traced_pid(trace), signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.fixture
def notify_socket(tmp_path):
    """A stand-in for systemd's notification socket, so the sd_notify path is traced too."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    messages = []

    def received():
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            pass
        return "\n".join(messages)

    yield path, received
    sock.close()


def test_kiosk_run_stays_inside_kiosk_service_filter(tmp_path, notify_socket):
    path, received = notify_socket
    config = tmp_path / "kiosk.toml"
    config.write_text(f"""\
device_id = "trace-1"
hub_url = "http://127.0.0.1:{free_port()}"
token = "not-a-real-token"
data_dir = "{tmp_path / 'data'}"
sync_interval_s = 1
[buttons]
very_unhappy = 5
unhappy = 6
happy = 13
very_happy = 19
[leds]
thanks = 26
""")
    trace, log_path = tmp_path / "trace.txt", tmp_path / "kiosk.log"
    env = {**os.environ, "NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"}
    with log_path.open("w") as log:
        proc = traced(trace, [str(BIN / "kiosk"), "run", "--config", str(config),
                              "--simulate", "600"], env, log)
        try:
            # Presses stored, the clock checked, a sync tried against a closed port, and the
            # watchdog pinged, before the stop.
            wait_until(lambda: log_path.read_text().count("stored press") >= 3, timeout=60,
                       message="presses stored")
            wait_until(lambda: "WATCHDOG=1" in received(), timeout=30, message="WATCHDOG=1")
            wait_until(lambda: re.search(r"^\d+\s+connect\(\d+, \{sa_family=AF_INET,",
                                         trace.read_text(), re.M),
                       timeout=30, message="a sync attempt")
        finally:
            returncode = stop(proc, trace)
    assert returncode == 0, log_path.read_text()
    assert "READY=1" in received() and "STOPPING=1" in received()
    assert re.search(r"\bclock_adjtime\(|\badjtimex\(", trace.read_text())
    assert_allowed("kiosk.service", trace)


def hub(db, *args):
    return subprocess.run([str(BIN / "hub"), "--db", str(db), *args], capture_output=True,
                          text=True, timeout=60, check=True).stdout.strip()


@pytest.fixture
def hub_db(tmp_path):
    db = tmp_path / "hub.db"
    hub(db, "init-db")
    hub(db, "location", "add", "ams", "--name", "Schiphol", "--timezone", "Europe/Amsterdam")
    return db


def test_hub_serve_stays_inside_kiosk_hub_service_filter(tmp_path, hub_db, notify_socket):
    path, received = notify_socket
    token = hub(hub_db, "device", "add", "trace-1", "--location", "ams")
    port = free_port()
    trace, log_path = tmp_path / "trace.txt", tmp_path / "hub.log"
    env = {**os.environ, "NOTIFY_SOCKET": str(path)}
    base = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    batch = {"device_id": "trace-1", "boot_id": "b1", "uptime_ms": 5000, "presses": [
        {"seq": 1, "id": "0b7e2a8e-4a3c-4a61-9d1f-2f6a7f0e8f11", "mood": 4,
         "pressed_at": "2026-11-23T07:00:00.000Z", "boot_id": "b1", "uptime_ms": 4000,
         "clock_synced": True, "misuse": False}]}
    with log_path.open("w") as log:
        proc = traced(trace, [str(BIN / "hub"), "--db", str(hub_db), "serve", "--host",
                              "127.0.0.1", "--port", str(port)], env, log)
        try:
            wait_until(healthy, timeout=60, message="hub serve answering")
            request = urllib.request.Request(
                f"{base}/api/v1/presses", data=json.dumps(batch).encode(), method="POST",
                headers={"Authorization": f"Bearer {token}",
                         "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as answer:
                stored = json.load(answer)
                assert (stored["inserted"], stored["duplicates"]) == (1, 0)
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
                assert answer.status == 200
        finally:
            returncode = stop(proc, trace)
    assert returncode == 0, log_path.read_text()
    assert "READY=1" in received()
    assert_allowed("kiosk-hub.service", trace)


@pytest.mark.parametrize(("unit", "args"), [
    ("kiosk-hub-backup.service", ["backup", "BACKUPS", "--keep", "14"]),
    ("kiosk-hub-alerts.service", ["alerts", "run"]),
])
def test_hub_oneshots_stay_inside_their_filters(tmp_path, hub_db, unit, args):
    trace = tmp_path / "trace.txt"
    args = [str(tmp_path / "backups") if a == "BACKUPS" else a for a in args]
    result = subprocess.run([STRACE, "-f", "-qq", "-o", str(trace), str(BIN / "hub"), "--db",
                             str(hub_db), *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert_allowed(unit, trace)
