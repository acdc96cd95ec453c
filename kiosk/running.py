"""Is a daemon running on this data_dir? `kiosk run` holds an flock on data_dir/kiosk.pid
for its whole life (the kernel drops it when the process ends, however it ends), so
`kiosk selftest` can tell "the daemon holds the pins" from "something else does", and a
second `kiosk run` on the same buffer is refused. And what systemd says of kiosk.service."""

import fcntl
import os
import subprocess
from pathlib import Path

PID_FILE = "kiosk.pid"
UNIT = "kiosk.service"


class AlreadyRunning(Exception):
    """Another `kiosk run` holds the lock; str() is the one line to show."""


class DaemonLock:
    """`DaemonLock.claim(data_dir)`: held until `release()` or the process ends."""

    def __init__(self, fd, path):
        self.fd, self.path = fd, path

    @classmethod
    def claim(cls, data_dir):
        """Take the lock and write our pid into the file; AlreadyRunning if another process
        has it. OSError if data_dir cannot hold the file."""
        path = Path(data_dir) / PID_FILE
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(path)
            os.close(fd)
            raise AlreadyRunning(f"another kiosk run (pid {pid or '?'}) is using {data_dir}; "
                                 "stop it first (sudo systemctl stop kiosk)") from None
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock; the file stays (its pid is stale)
            self.fd = None


def holder(data_dir):
    """The pid of the `kiosk run` holding data_dir's lock, 0 if its pid is unreadable, or
    None when no daemon runs there (no lock file, or nobody holds it)."""
    path = Path(data_dir) / PID_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(path) or 0
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


def _read_pid(path):
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def service_state(unit=UNIT, run=subprocess.run):
    """What systemd says of *unit*: {"ActiveState", "SubState", "NRestarts", "Result",
    "ActiveEnterTimestamp"}; None without systemd or when the unit is not installed."""
    properties = ("LoadState", "ActiveState", "SubState", "NRestarts", "Result",
                  "ActiveEnterTimestamp")
    try:
        result = run(["systemctl", "show", unit, "--property=" + ",".join(properties)],
                     capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None  # no systemd here (a container, a laptop without it)
    state = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    if state.get("LoadState") != "loaded":
        return None
    return state
