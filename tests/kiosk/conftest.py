"""Fixtures for the kiosk tests: mock pins, a clock the test moves, a running daemon."""

import sqlite3
from datetime import timedelta

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from kiosk.config import load_config
from kiosk.daemon import Daemon
from kiosk.systemd import Notifier
from tests.kiosk.helpers import BOOT, T0, write_config
from tests.support import wait_until

THANKS = 26


class FakeClock:
    """Wall clock and uptime that move only when the test says so."""

    boot_id = BOOT

    def __init__(self):
        self.ms = 1_000_000
        self.is_synced = True

    def now(self):
        return T0 + timedelta(milliseconds=self.ms)

    def uptime_ms(self):
        return self.ms

    def synced(self):
        return self.is_synced

    def advance(self, seconds):
        self.ms += round(seconds * 1000)


class WatchedPin(MockPin):
    """A mock pin that notes, each time it goes high, what the buffer held at that moment
    (MockPin's own extension point, as gpiozero's MockConnectedPin uses it)."""

    on_high = None

    def _change_state(self, value):
        if value and not self._state and self.on_high is not None:
            self.lit_with.append(self.on_high())
        return super()._change_state(value)


@pytest.fixture
def factory():
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture
def fake_clock():
    return FakeClock()


def rows(data_dir):
    """Presses committed to the buffer, read on a connection of its own."""
    conn = sqlite3.connect(data_dir / "buffer.db")
    try:
        return conn.execute("SELECT seq, mood, misuse, clock_synced FROM presses "
                            "ORDER BY seq").fetchall()
    finally:
        conn.close()


@pytest.fixture
def make_daemon(tmp_path, factory, fake_clock):
    """A started Daemon on mock pins with a thanks LED on BCM 26 (watched)."""
    daemons = []

    def make(body="lockout_s = 2.0", data_dir=None, wait=True):
        config = load_config(write_config(tmp_path, body, data_dir=data_dir,
                                          leds=f"[leds]\nthanks = {THANKS}\n"))
        led_pin = factory.pin(THANKS, pin_class=WatchedPin)
        led_pin.lit_with = []
        led_pin.on_high = lambda: len(rows(config.data_dir))
        daemon = Daemon(config, factory, clock=fake_clock, notifier=Notifier({}))
        daemons.append(daemon)
        daemon.start()
        if wait:
            wait_until(daemon.store_up.is_set, message="the store to open")
        return daemon

    yield make
    for daemon in daemons:
        daemon.stop()
