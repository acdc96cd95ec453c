"""`kiosk run --simulate` as a real process: kill -9 in a press storm, SIGTERM, systemd."""

import contextlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.kiosk.helpers import write_config
from tests.support import free_port, wait_until

KIOSK = str(Path(sys.executable).parent / "kiosk")
STORED = re.compile(r"stored press seq=(\d+)")

pytestmark = pytest.mark.slow


class Kiosk:
    """`kiosk run` on mock pins over a temp config; its stderr goes to one log file."""

    def __init__(self, tmp_path, body="lockout_s = 0.0", **env):
        self.config = write_config(tmp_path, body)
        self.data_dir = tmp_path / "data"
        self.log = tmp_path / "kiosk.log"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("KIOSK_", "GPIOZERO_", "NOTIFY_", "WATCHDOG_"))}
        self.env.update(env)
        self.process = None

    def start(self, rate):
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [KIOSK, "run", "--config", str(self.config), "--simulate", str(rate)],
                stdout=log, stderr=log, env=self.env)
        return self

    def logged(self):
        text = self.log.read_text() if self.log.exists() else ""
        return [int(n) for n in STORED.findall(text)]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def rows(self, columns="seq"):
        conn = sqlite3.connect(self.data_dir / "buffer.db")
        try:
            return conn.execute(f"SELECT {columns} FROM presses ORDER BY seq").fetchall()
        finally:
            conn.close()


def test_kill_9_during_a_press_storm_loses_nothing_stored(tmp_path):
    # With a hub_url where nothing listens: the sync thread runs (and fails) all along.
    kiosk = Kiosk(tmp_path, f'lockout_s = 0.0\nhub_url = "http://127.0.0.1:{free_port()}"\n'
                  'token = "t0ken"\nsync_interval_s = 0.5')
    for _ in range(4):
        before = len(kiosk.logged())
        kiosk.start(1200)  # 20 presses a second
        wait_until(lambda before=before: len(kiosk.logged()) >= before + 15, timeout=30,
                   message="presses stored before the kill")
        assert kiosk.stop(signal.SIGKILL) == -signal.SIGKILL
    kiosk.start(1200)
    wait_until(lambda: len(kiosk.logged()) >= 70, timeout=30, message="more presses")
    started = time.monotonic()
    assert kiosk.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    seqs = [seq for (seq,) in kiosk.rows()]
    logged = kiosk.logged()
    assert seqs == list(range(1, len(seqs) + 1))  # contiguous, never reused
    assert set(logged) <= set(seqs)  # every press reported as stored is there
    assert logged == sorted(set(logged))  # and none was reported twice
    text = kiosk.log.read_text()
    assert "stopped after storing" in text and "sync: " in text  # sync ran, and failed politely
    assert "t0ken" not in text


def test_sigterm_flushes_and_exits_0_with_a_clock_years_off(tmp_path):
    kiosk = Kiosk(tmp_path, KIOSK_FAKE_CLOCK_OFFSET_S=str(-6 * 365 * 86400))
    kiosk.start(1200)
    wait_until(lambda: len(kiosk.logged()) >= 10, timeout=30, message="ten stored presses")
    started = time.monotonic()
    assert kiosk.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    rows = kiosk.rows("seq, pressed_at, clock_synced")
    assert [r[0] for r in rows] == kiosk.logged()  # flushed: nothing stored went unlogged
    assert all(r[1] < "2021" and r[2] == 0 for r in rows)
    assert "KIOSK_FAKE_CLOCK_OFFSET_S is set" in kiosk.log.read_text()


def test_tells_systemd_ready_watchdog_and_stopping(tmp_path):
    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.settimeout(20)
        kiosk = Kiosk(tmp_path, NOTIFY_SOCKET="@" + name, WATCHDOG_USEC="400000")
        kiosk.start(0)
        try:
            while not (message := listener.recv(4096).decode()).startswith("READY=1"):
                assert message == "WATCHDOG=1"  # the writer pets from its first round
            assert [listener.recv(4096).decode() for _ in range(3)] == ["WATCHDOG=1"] * 3
            assert kiosk.stop(signal.SIGTERM) == 0
            while (message := listener.recv(4096).decode()) == "WATCHDOG=1":
                pass
            assert message == "STOPPING=1"
        finally:
            if kiosk.process.poll() is None:
                kiosk.process.kill()
                kiosk.process.wait()
    assert kiosk.rows() == []  # --simulate 0 pressed nothing


def test_repeated_signals_never_hang_the_stop(tmp_path):
    # `timeout`, a double Ctrl-C or systemd and a user at once: a burst of signals must not
    # deadlock the shutdown (a handler that takes a lock can re-enter it).
    kiosk = Kiosk(tmp_path)
    kiosk.start(1200)
    wait_until(lambda: len(kiosk.logged()) >= 5, timeout=30, message="five stored presses")
    started = time.monotonic()
    for _ in range(200):
        if kiosk.process.poll() is not None:
            break
        kiosk.process.send_signal(signal.SIGTERM)
        kiosk.process.send_signal(signal.SIGINT)
    try:
        code = kiosk.process.wait(timeout=10)
    finally:
        if kiosk.process.poll() is None:
            kiosk.process.kill()
            kiosk.process.wait()
    assert code == 0
    assert time.monotonic() - started < 5
    assert [seq for (seq,) in kiosk.rows()] == kiosk.logged()  # flushed, all logged


def test_pauses_stop_neither_the_daemon_nor_its_watchdog(tmp_path):
    """SIGSTOP for longer than the main loop's 1 s wait, then SIGCONT, a few times (a debugger,
    `kill -STOP`, a frozen VM): presses and WATCHDOG=1 go on after each pause, and SIGTERM
    still stops the kiosk with exit 0, everything stored. signal.sigtimedwait returned a
    garbage signal number after such a pause: the main loop died (SIGTERM then went unheard
    for good) or took the garbage for a signal and stopped."""
    name = f"kiosk-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.settimeout(20)
        kiosk = Kiosk(tmp_path, NOTIFY_SOCKET="@" + name, WATCHDOG_USEC="1000000")
        kiosk.start(1200)
        try:
            while not listener.recv(4096).decode().startswith("READY=1"):
                pass
            for pause in (2.5, 1.5, 3.0):
                stored = len(kiosk.logged())
                kiosk.process.send_signal(signal.SIGSTOP)
                time.sleep(pause)  # the pause itself
                listener.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    while listener.recv(4096):  # what was sent before the pause
                        pass
                listener.settimeout(20)
                kiosk.process.send_signal(signal.SIGCONT)
                assert [listener.recv(4096) for _ in range(3)] == [b"WATCHDOG=1"] * 3
                wait_until(lambda stored=stored: len(kiosk.logged()) >= stored + 10,
                           timeout=30, message="presses stored after the pause")
                assert kiosk.process.poll() is None, kiosk.log.read_text()[-2000:]
            started = time.monotonic()
            assert kiosk.stop(signal.SIGTERM) == 0
            assert time.monotonic() - started < 10
        finally:
            if kiosk.process.poll() is None:
                kiosk.process.kill()
                kiosk.process.wait()
    text = kiosk.log.read_text()
    assert "Traceback" not in text
    assert " received" not in text.replace("SIGTERM received", "", 1)  # one signal, once
    assert [seq for (seq,) in kiosk.rows()] == kiosk.logged()  # flushed, all logged


BROKEN_MAIN_LOOP = """
import sys
from kiosk import cli

def broken(stop_event, log, poll_s=1.0):
    stop_event.wait(1.0)  # presses are being stored meanwhile
    raise RuntimeError("a bug in the main loop")

cli._wait_for_stop = broken
sys.argv[0] = "kiosk"
cli.main()
"""


def test_a_main_loop_that_fails_stops_the_whole_daemon_with_exit_1(tmp_path):
    """A bug in the main loop (here injected) is not a daemon left half-alive, its stop
    signals blocked: it stores what is queued and exits 1, so systemd restarts it."""
    kiosk = Kiosk(tmp_path)
    with kiosk.log.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", BROKEN_MAIN_LOOP, "run", "--config", str(kiosk.config),
             "--simulate", "1200"], stdout=log, stderr=log, env=kiosk.env)
    try:
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = kiosk.log.read_text()
    assert code == 1, text[-2000:]
    assert "the main loop failed; stopping" in text and "a bug in the main loop" in text
    assert "stopped after storing" in text
    assert kiosk.logged() and [seq for (seq,) in kiosk.rows()] == kiosk.logged()


def test_keyboard_keys_1_to_4_press_the_buttons_and_q_quits(tmp_path):
    """`kiosk run --keyboard` on a real terminal (a pty): each key is one press of its
    button, other keys nothing, q stops the daemon cleanly and gives the terminal back."""
    import pty
    import termios

    kiosk = Kiosk(tmp_path)
    leader, follower = pty.openpty()
    before = termios.tcgetattr(follower)
    with kiosk.log.open("a") as log:
        process = subprocess.Popen(
            [KIOSK, "run", "--config", str(kiosk.config), "--keyboard"],
            stdin=follower, stdout=log, stderr=log, env=kiosk.env)
    try:
        wait_until(lambda: " ready: " in kiosk.log.read_text(), timeout=30,
                   message="the daemon to be ready")
        wait_until(lambda: "keys 1-4 press" in kiosk.log.read_text(), timeout=30,
                   message="the keyboard prompt")
        for n, key in enumerate(b"14x3"):  # x is not a button
            # A person types slower than the 50 ms debounce window (edges of any button
            # closer than that are taken for bounce): keep that pace.
            time.sleep(0.1)
            os.write(leader, bytes([key]))
            if key != ord("x"):
                stored = len([k for k in b"14x3"[:n + 1] if k != ord("x")])
                wait_until(lambda stored=stored: len(kiosk.logged()) == stored, timeout=10,
                           message=f"press {stored} stored")
        os.write(leader, b"q")
        assert process.wait(timeout=15) == 0, kiosk.log.read_text()[-2000:]
        assert termios.tcgetattr(follower) == before  # cbreak undone on the way out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(leader)
        os.close(follower)
    assert kiosk.rows("seq, mood") == [(1, 1), (2, 4), (3, 3)]


def test_selftest_while_the_daemon_runs_checks_the_daemon_not_its_pins(tmp_path):
    """On a Pi the running daemon holds the pins, and claiming them again FAILed: provisioning
    ended with a failure technicians learnt to ignore. Now the pins are not claimed while a
    daemon holds data_dir's lock; the daemon line says it runs. A second `kiosk run` on the
    same buffer is refused; once the daemon is gone, selftest says nothing runs."""
    kiosk = Kiosk(tmp_path)
    kiosk.start(0)
    try:
        wait_until(lambda: " ready: " in kiosk.log.read_text(), timeout=30,
                   message="the daemon to be ready")
        pid = kiosk.process.pid
        result = subprocess.run([KIOSK, "selftest", "--config", str(kiosk.config), "--simulate"],
                                capture_output=True, text=True, timeout=60, env=kiosk.env)
        lines = {line.split()[0]: line for line in result.stdout.splitlines()}
        assert lines["pins"].startswith(f"pins     OK   held by the running daemon (pid {pid})")
        assert "sudo systemctl stop kiosk" in lines["pins"]
        assert lines["daemon"].startswith(f"daemon   OK   kiosk run is running (pid {pid})")
        assert result.returncode == 0, result.stdout  # no hub_url: hub is a WARN
        second = subprocess.run([KIOSK, "run", "--config", str(kiosk.config), "--simulate", "0"],
                                capture_output=True, text=True, timeout=60, env=kiosk.env)
        assert second.returncode == 1
        assert second.stderr.endswith(f"kiosk: another kiosk run (pid {pid}) is using "
                                      f"{kiosk.data_dir}; stop it first (sudo systemctl stop "
                                      "kiosk)\n")
    finally:
        assert kiosk.stop() == 0
    result = subprocess.run([KIOSK, "selftest", "--config", str(kiosk.config), "--simulate"],
                            capture_output=True, text=True, timeout=60, env=kiosk.env)
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert lines["pins"].startswith("pins     OK   buttons very_unhappy=5")
    assert lines["daemon"].startswith("daemon   WARN no kiosk run is using")
