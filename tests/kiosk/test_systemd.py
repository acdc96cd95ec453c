"""sd_notify: a no-op outside systemd; the watchdog at half its period."""

import socket

from kiosk.systemd import Notifier


def test_outside_systemd_nothing_is_sent():
    notifier = Notifier({})
    assert notifier.ready() is False and notifier.watchdog() is False
    assert notifier.watchdog_interval is None


def test_watchdog_at_half_the_period_to_a_path_socket(tmp_path):
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "10000000"})
        assert notifier.watchdog_interval == 5.0
        assert notifier.watchdog(now=100.0) is True
        assert notifier.watchdog(now=104.9) is False
        assert notifier.watchdog(now=105.0) is True
        assert notifier.ready("up") is True
        assert [listener.recv(100) for _ in range(3)] == [
            b"WATCHDOG=1", b"WATCHDOG=1", b"READY=1\nSTATUS=up"]


def test_watchdog_meant_for_another_process_is_ignored(tmp_path):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "1000000",
                         "WATCHDOG_PID": "1"})
    assert notifier.watchdog_interval is None


def test_watchdog_due_in_says_when_to_wake(tmp_path):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "4000000"})
    assert notifier.watchdog_due_in(now=10.0) == 0.0  # never petted: due now
    notifier.watchdog(now=10.0)
    assert notifier.watchdog_due_in(now=11.5) == 0.5
    assert notifier.watchdog_due_in(now=13.0) == 0.0
    assert Notifier({}).watchdog_due_in() is None
