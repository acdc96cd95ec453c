"""kiosk.clock: wall clock UTC, CLOCK_BOOTTIME, boot id, NTP state, the fake offset seam."""

import ctypes
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kiosk import clock


def test_uptime_is_clock_boottime_in_ms():
    before = time.clock_gettime_ns(time.CLOCK_BOOTTIME) // 1_000_000
    ours = clock.uptime_ms()
    after = time.clock_gettime_ns(time.CLOCK_BOOTTIME) // 1_000_000
    assert isinstance(ours, int) and before <= ours <= after


def test_boot_id_is_this_boots():
    assert clock.boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_format_utc_is_rfc3339_ms_z():
    instant = datetime(2026, 11, 22, 11, 15, 3, 120999, tzinfo=UTC)
    assert clock.format_utc(instant) == "2026-11-22T11:15:03.120Z"
    local = instant.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert clock.format_utc(local) == "2026-11-22T11:15:03.120Z"


class FakeLibc:
    """adjtimex(2) answering *state* with *status* in struct timex."""

    def __init__(self, state, status):
        self.state, self.status = state, status

    def adjtimex(self, pointer):
        ctypes.cast(pointer, ctypes.POINTER(clock._Timex)).contents.status = self.status
        return self.state


@pytest.mark.parametrize("state, status, synced", [
    (0, 0x2001, True),  # TIME_OK, PLL + nanosecond
    (5, 0x2001, False),  # TIME_ERROR
    (0, 0x0040, False),  # STA_UNSYNC
    (-1, 0, False),  # the call failed
])
def test_clock_synced_reads_adjtimex(monkeypatch, state, status, synced):
    monkeypatch.setattr(clock, "_libc", FakeLibc(state, status))
    assert clock.clock_synced() is synced


def test_the_real_adjtimex_answers_a_bool():
    assert clock.clock_synced() in (True, False)


def test_a_fake_offset_shifts_the_wall_clock_and_is_never_synced(monkeypatch):
    monkeypatch.setattr(clock, "clock_synced", lambda: True)
    real = clock.Clock.from_environment({})
    assert real.synced() is True and not real.faked
    fake = clock.Clock.from_environment({clock.FAKE_OFFSET_ENV: "-86400"})
    shift = real.now() - fake.now()
    assert timedelta(days=1) - timedelta(seconds=5) < shift < timedelta(days=1, seconds=5)
    assert fake.synced() is False and fake.clock_synced() is False
    assert fake.now().tzinfo is not None and fake.boot_id == real.boot_id
    with pytest.raises(ValueError):
        clock.Clock.from_environment({clock.FAKE_OFFSET_ENV: "soon"})


def test_a_fake_offset_file_makes_the_clock_jump_while_running(tmp_path):
    offset = tmp_path / "offset"
    offset.write_text("0\n")
    fake = clock.Clock.from_environment({clock.FAKE_OFFSET_FILE_ENV: str(offset)})
    assert fake.faked and fake.synced() is False
    before = fake.now()
    offset.write_text(str(-2 * 365 * 86400))  # NTP steps a stale clock, or the RTC-less boot
    os.utime(offset, ns=(1, 10**18))  # a new mtime even within the same tick
    jumped = fake.now()
    assert timedelta(days=729) < before - jumped < timedelta(days=731)
    offset.write_text("")  # caught half-written: the last offset stays
    os.utime(offset, ns=(2, 2 * 10**18))
    assert abs((fake.now() - jumped).total_seconds()) < 5


def test_a_bad_fake_clock_seam_is_a_value_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="KIOSK_FAKE_CLOCK_OFFSET_S: expected a number"):
        clock.Clock.from_environment({clock.FAKE_OFFSET_ENV: "soon"})
    (tmp_path / "offset").write_text("soon")
    with pytest.raises(ValueError, match="KIOSK_FAKE_CLOCK_OFFSET_FILE: .* does not hold"):
        clock.Clock.from_environment({clock.FAKE_OFFSET_FILE_ENV: str(tmp_path / "offset")})
