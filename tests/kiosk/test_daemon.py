"""Presses through the real Button objects on mock pins, into the buffer, then the LED."""

import json
import logging

import pytest

from kiosk.simulate import press
from tests.kiosk.conftest import THANKS, rows
from tests.support import wait_until


def stored(daemon, count):
    return wait_until(lambda: len(rows(daemon.config.data_dir)) >= count and
                      rows(daemon.config.data_dir), message=f"{count} stored presses")


def test_a_press_is_stored_then_thanked(make_daemon, factory, caplog):
    with caplog.at_level(logging.INFO, logger="kiosk.daemon"):
        daemon = make_daemon()
        press(daemon.hardware.buttons["very_happy"])
        assert stored(daemon, 1) == [(1, 4, 0, 1)]
        led = factory.pin(THANKS)
        wait_until(lambda: led.lit_with, message="the thanks LED")
    assert led.lit_with == [1]  # the row was committed before the LED went on
    assert "stored press seq=1 mood=very_happy" in caplog.text


def test_presses_within_lockout_are_kept_as_misuse(make_daemon, fake_clock):
    daemon = make_daemon("lockout_s = 2.0")
    buttons = daemon.hardware.buttons
    press(buttons["happy"])
    fake_clock.advance(0.5)
    press(buttons["unhappy"])  # another button counts too
    fake_clock.advance(1.9)
    press(buttons["unhappy"])  # 1.9 s after the previous press: still misuse
    fake_clock.advance(2.5)
    press(buttons["very_unhappy"])
    assert [(seq, misuse) for seq, _, misuse, _ in stored(daemon, 4)] == [
        (1, 0), (2, 1), (3, 1), (4, 0)]


def test_a_held_button_counts_once(make_daemon, fake_clock):
    daemon = make_daemon("lockout_s = 0.0")
    buttons = daemon.hardware.buttons
    pin = buttons["happy"].pin
    pin.drive_low()  # pressed, and held down (a child leaning on it)
    stored(daemon, 1)
    for _ in range(3):  # seconds go by and other buttons are pressed meanwhile
        fake_clock.advance(1)
        press(buttons["very_happy"])
    stored(daemon, 4)
    fake_clock.advance(5)
    pin.drive_high()  # let go after many seconds: a release, not a press
    fake_clock.advance(1)
    press(buttons["happy"])  # pressed again: that is a new press
    daemon.stop()  # flushes everything queued
    assert [mood for _, mood, _, _ in rows(daemon.config.data_dir)] == [3, 4, 4, 4, 3]


def test_bounce_never_makes_two_presses(make_daemon, fake_clock):
    daemon = make_daemon("lockout_s = 0.0")
    pin = daemon.hardware.buttons["unhappy"].pin
    for _ in range(6):  # contact bounce: six edges within 30 ms
        pin.drive_low()
        fake_clock.advance(0.003)
        pin.drive_high()
        fake_clock.advance(0.002)
    fake_clock.advance(0.2)
    press(daemon.hardware.buttons["happy"])  # a real second press, 200 ms later
    daemon.stop()
    assert [mood for _, mood, _, _ in rows(daemon.config.data_dir)] == [2, 3]


def test_bounce_on_release_is_not_a_second_press(make_daemon, fake_clock):
    # A mechanical button chatters when it opens too: a falling edge a few ms after the
    # release, long after the press, is bounce of the release, not a new press.
    daemon = make_daemon("lockout_s = 2.0")
    pin = daemon.hardware.buttons["happy"].pin
    pin.drive_low()
    fake_clock.advance(0.15)  # held 150 ms
    pin.drive_high()
    fake_clock.advance(0.004)
    pin.drive_low()  # chatter of the opening contact
    fake_clock.advance(0.003)
    pin.drive_high()
    fake_clock.advance(0.3)
    press(daemon.hardware.buttons["very_happy"])  # a real (hasty) second press
    daemon.stop()
    assert [(mood, misuse) for _, mood, misuse, _ in rows(daemon.config.data_dir)] == [
        (3, 0), (4, 1)]


def test_presses_are_stamped_with_the_clock_state(make_daemon, fake_clock):
    daemon = make_daemon()
    fake_clock.is_synced = False
    press(daemon.hardware.buttons["very_unhappy"])
    daemon.stop()
    (press_,) = daemon_buffer_pending(daemon)
    assert press_["clock_synced"] is False and press_["boot_id"] == fake_clock.boot_id
    assert press_["uptime_ms"] == fake_clock.ms
    assert press_["pressed_at"] == fake_clock.now().isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def daemon_buffer_pending(daemon):
    from kiosk.store import PressBuffer

    buffer = PressBuffer(daemon.config.data_dir)
    try:
        return buffer.pending(100)
    finally:
        buffer.close()


def test_unwritable_data_dir_keeps_presses_in_memory_and_retries(make_daemon, tmp_path,
                                                                 factory, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with caplog.at_level(logging.INFO, logger="kiosk.daemon"):
        daemon = make_daemon(data_dir=blocker / "data", wait=False)
        wait_until(lambda: "cannot open the press buffer" in caplog.text,
                   message="a log line about the buffer")
        press(daemon.hardware.buttons["happy"])
        wait_until(lambda: len(daemon._waiting) == 1 or daemon.presses.qsize(),
                   message="the press to be held")
        assert not factory.pin(THANKS).lit_with  # not stored: not thanked
        assert daemon._writer.is_alive()
        blocker.unlink()  # the technician fixes the disk
        wait_until(daemon.store_up.is_set, timeout=10, message="the store to open")
        assert stored(daemon, 1) == [(1, 3, 0, 1)]
        wait_until(lambda: factory.pin(THANKS).lit_with, message="the thanks LED")
    assert caplog.text.count("cannot open the press buffer") == 1  # not once a second


def test_stop_flushes_the_queue(make_daemon):
    daemon = make_daemon("lockout_s = 0.0")
    buttons = list(daemon.hardware.buttons.values())
    for i in range(40):
        daemon.clock.advance(0.1)
        press(buttons[i % 4])
    daemon.stop()
    assert [seq for seq, *_ in rows(daemon.config.data_dir)] == list(range(1, 41))
    assert not daemon._writer.is_alive()


def test_a_corrupt_buffer_is_set_aside_by_the_daemon(make_daemon, tmp_path, caplog):
    data = tmp_path / "data"
    data.mkdir()
    (data / "buffer.db").write_bytes(b"this is not a database" * 300)
    with caplog.at_level(logging.ERROR, logger="kiosk.store"):
        daemon = make_daemon()
    assert "is corrupt; moved aside" in caplog.text
    press(daemon.hardware.buttons["happy"])
    assert len(stored(daemon, 1)) == 1
    assert len(list(data.glob("buffer.db.corrupt-*"))) == 1


@pytest.mark.parametrize("led_config, lit", [("thanks = 26", 26), ("happy = 20", 20)])
def test_led_choice(tmp_path, factory, fake_clock, led_config, lit):
    from kiosk.buttons import Hardware
    from kiosk.config import load_config
    from tests.kiosk.helpers import write_config

    config = load_config(write_config(tmp_path, leds=f"[leds]\n{led_config}\n"))
    hardware = Hardware(config, factory, lambda mood: None)
    try:
        assert hardware.led_for(3).pin.info.name == f"GPIO{lit}"
        assert (hardware.led_for(4) is None) == (lit == 20)
    finally:
        hardware.close()


def test_status_reads_a_running_daemons_buffer_without_disturbing_it(make_daemon, fake_clock,
                                                                     caplog):
    from click.testing import CliRunner

    from kiosk.cli import main

    daemon = make_daemon("lockout_s = 0.0")
    buttons = daemon.hardware.buttons
    for n in range(5):
        press(buttons["happy"])
        stored(daemon, n + 1)
        result = CliRunner().invoke(main, ["status", "--config", daemon.config.path, "--json"],
                                    catch_exceptions=False)
        assert result.exit_code == 0
        state = json.loads(result.stdout)
        assert (state["recorded_total"], state["queued"]) == (n + 1, n + 1)
        fake_clock.advance(0.1)
    assert daemon.stored == 5
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no write failed


def test_a_buffer_damaged_while_running_is_set_aside_and_presses_go_on(make_daemon, factory,
                                                                       fake_clock, caplog):
    from tests.kiosk.test_store import corrupt_an_index

    daemon = make_daemon("lockout_s = 0.0")
    buttons = daemon.hardware.buttons
    for _ in range(3):
        press(buttons["happy"])
        fake_clock.advance(0.1)
    stored(daemon, 3)
    led = factory.pin(THANKS)
    wait_until(lambda: len(led.lit_with) and not led.state, message="the LED to go out")
    lit_before = len(led.lit_with)
    corrupt_an_index(daemon.config.data_dir / "buffer.db")
    with caplog.at_level(logging.INFO, logger="kiosk"):
        press(buttons["very_unhappy"])
        fresh = wait_until(lambda: daemon.stored == 4 and rows(daemon.config.data_dir),
                           message="the press stored in a fresh buffer")
    (seq, mood, _, _), = fresh
    assert seq > 3 and mood == 1  # seq continues above everything handed out before
    assert "malformed" in caplog.text and "moved aside to buffer.db.corrupt-" in caplog.text
    assert len(list(daemon.config.data_dir.glob("buffer.db.corrupt-*[0-9Z]"))) == 1
    wait_until(lambda: len(led.lit_with) > lit_before, message="the thanks LED")
    assert led.lit_with[-1] == 1  # lit once the press was in the new file


class FakeSyncLoop:
    """Stands in for kiosk.sync.SyncLoop: the interface the daemon relies on."""

    made = []
    fail = False

    def __init__(self, config, stop_event):
        if self.fail:
            raise RuntimeError("sync is broken")
        self.config, self.stop_event = config, stop_event
        self.ran = False
        self.made.append(self)

    def run(self):
        self.ran = True
        self.stop_event.wait()


@pytest.fixture
def fake_sync(monkeypatch):
    import types

    FakeSyncLoop.made, FakeSyncLoop.fail = [], False
    monkeypatch.setitem(__import__("sys").modules, "kiosk.sync",
                        types.SimpleNamespace(SyncLoop=FakeSyncLoop))
    return FakeSyncLoop


HUB = 'lockout_s = 0.0\nhub_url = "http://127.0.0.1:9"\ntoken = "t0ken"'


def test_sync_runs_in_its_own_thread_until_the_daemon_stops(make_daemon, fake_sync):
    daemon = make_daemon(HUB)
    (loop,) = wait_until(lambda: fake_sync.made, message="a sync loop")
    wait_until(lambda: loop.ran, message="the sync loop running")
    assert loop.config is daemon.config and not loop.stop_event.is_set()
    daemon.stop()
    assert loop.stop_event.is_set()


def test_a_sync_that_cannot_start_does_not_stop_presses(make_daemon, fake_sync, caplog):
    fake_sync.fail = True
    with caplog.at_level(logging.INFO, logger="kiosk.daemon"):
        daemon = make_daemon(HUB)
        press(daemon.hardware.buttons["happy"])
        assert len(stored(daemon, 1)) == 1
    assert "sync could not start" in caplog.text


def test_a_fresh_buffer_gets_a_fresh_sync_loop(make_daemon, fake_sync, fake_clock):
    from tests.kiosk.test_store import corrupt_an_index

    daemon = make_daemon(HUB)
    press(daemon.hardware.buttons["happy"])
    stored(daemon, 1)
    corrupt_an_index(daemon.config.data_dir / "buffer.db")
    fake_clock.advance(0.1)
    press(daemon.hardware.buttons["happy"])
    first, second = wait_until(lambda: len(fake_sync.made) == 2 and fake_sync.made,
                               message="a second sync loop")
    assert first.stop_event.is_set() and not second.stop_event.is_set()


def test_a_writer_that_fails_stops_the_daemon_instead_of_living_on(make_daemon, caplog):
    daemon = make_daemon()
    with caplog.at_level(logging.ERROR, logger="kiosk.daemon"):
        daemon.presses.put("not a press")  # as a bug in the writer would
        wait_until(daemon.stop_event.is_set, message="the daemon to stop")
    assert daemon.failed is True  # `kiosk run` exits 1, so systemd restarts it
    assert "the press writer failed; stopping" in caplog.text
