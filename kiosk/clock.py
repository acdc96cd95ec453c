"""Where and when a press happens: wall clock (UTC), uptime, boot id and NTP state.

A Pi has no real-time clock: it boots with a stale wall clock until NTP corrects it, so every
press also records CLOCK_BOOTTIME and the boot id (the hub places presses by uptime when the
wall clock was not synchronised).

For other kiosk modules (e.g. sync): `boot_id()`, `uptime_ms()`, `clock_synced()` and
`Clock.from_environment()` are the one source of these values; the daemon stamps presses
with a `Clock`.

Test-only seams: `KIOSK_FAKE_CLOCK_OFFSET_S=<seconds>` in the daemon's environment adds that
many seconds to the wall clock and reports it as not synchronised, so end-to-end tests can
play a Pi whose clock is wrong by years; `KIOSK_FAKE_CLOCK_OFFSET_FILE=<path>` does the same
with the seconds read from that file whenever it changes, so a test can make the clock jump
back and forth while the daemon runs (as NTP stepping a stale clock does). Never set either
on a real kiosk.
"""

import ctypes
import ctypes.util
import os
import time
from datetime import UTC, datetime, timedelta

FAKE_OFFSET_ENV = "KIOSK_FAKE_CLOCK_OFFSET_S"
FAKE_OFFSET_FILE_ENV = "KIOSK_FAKE_CLOCK_OFFSET_FILE"
TIME_ERROR = 5  # adjtimex's answer when the clock is not synchronised
STA_UNSYNC = 0x0040


class _Timex(ctypes.Structure):
    # The leading fields of struct timex (linux/timex.h); the rest is room for the kernel.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("_rest", ctypes.c_byte * 512)]


_libc = None


def clock_synced():
    """Is the kernel's wall clock NTP-synchronised? (adjtimex, read only: no subprocess.)"""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        timex = _Timex()  # modes = 0: only read the state
        state = _libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return False
    return state not in (-1, TIME_ERROR) and not timex.status & STA_UNSYNC


def uptime_ms():
    """Milliseconds since boot, counting suspend (CLOCK_BOOTTIME)."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME) // 1_000_000


_boot_id = None


def boot_id():
    """This boot's id (/proc/sys/kernel/random/boot_id), read once."""
    global _boot_id
    if _boot_id is None:
        try:
            with open("/proc/sys/kernel/random/boot_id") as f:
                _boot_id = f.read().strip()
        except OSError:
            _boot_id = "unknown-boot"
    return _boot_id


def format_utc(instant):
    """RFC 3339 UTC with milliseconds and Z: `2026-11-22T10:15:03.120Z`."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Clock:
    """The kiosk's view of time; pass another one (or an offset) in tests."""

    def __init__(self, offset_s=0.0, offset_file=None):
        self._offset = timedelta(seconds=offset_s)
        self._offset_file = offset_file
        self._offset_stamp = None
        self.boot_id = boot_id()

    @classmethod
    def from_environment(cls, environ=os.environ):
        """The real clock, shifted by $KIOSK_FAKE_CLOCK_OFFSET_S, or by the seconds in the
        file $KIOSK_FAKE_CLOCK_OFFSET_FILE names, if set (tests only)."""
        path = environ.get(FAKE_OFFSET_FILE_ENV, "").strip()
        if path:
            clock = cls(offset_file=path)
            clock.offset  # noqa: B018  # read once now: a bad file is a ValueError at start
            return clock
        raw = environ.get(FAKE_OFFSET_ENV, "").strip()
        try:
            return cls(float(raw)) if raw else cls()
        except ValueError:
            raise ValueError(f"{FAKE_OFFSET_ENV}: expected a number of seconds, "
                             f"got {raw!r}") from None

    @property
    def offset(self):
        """How far the wall clock is shifted (a timedelta)."""
        if self._offset_file is not None:
            try:
                stat = os.stat(self._offset_file)
                stamp = (stat.st_mtime_ns, stat.st_size)
                if stamp != self._offset_stamp:
                    with open(self._offset_file) as f:
                        self._offset = timedelta(seconds=float(f.read().strip()))
                    self._offset_stamp = stamp
            except (OSError, ValueError):
                if self._offset_stamp is None:
                    raise ValueError(f"{FAKE_OFFSET_FILE_ENV}: {self._offset_file} does not "
                                     "hold a number of seconds") from None
                # half-written by the test: keep the last offset
        return self._offset

    @property
    def faked(self):
        return self._offset_file is not None or bool(self._offset)

    def now(self):
        """The wall clock, UTC, aware."""
        return datetime.now(UTC) + self.offset

    def uptime_ms(self):
        return uptime_ms()

    def synced(self):
        """NTP state; a faked clock is never synchronised."""
        return False if self.faked else clock_synced()

    clock_synced = synced  # so a Clock also serves as kiosk.sync's identity
