"""The `kiosk` command: run the daemon, show its status, check a kiosk. Thin: the work is in
kiosk.daemon, kiosk.store and friends."""

import json
import logging
import os
import select
import signal
import sys
from pathlib import Path

import click

from kiosk import __version__, clock, running
from kiosk.config import ConfigError, load_config

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
CONFIG_HELP = "TOML config (default: $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml)."
# Installed with the package; kiosk/kiosk.example.toml in the repository.
EXAMPLE_CONFIG = Path(__file__).with_name("kiosk.example.toml")


def _config(path):
    try:
        return load_config(path)
    except ConfigError as e:
        _fail(str(e), code=2)


def _fail(message, code=1):
    click.echo(message, err=True)
    sys.exit(code)


def _setup_logging(verbose=False):
    # Under systemd (JOURNAL_STREAM set) a <N> prefix gives journald each line's priority.
    journal = bool(os.environ.get("JOURNAL_STREAM"))

    class Prefix(logging.Formatter):
        def format(self, record):
            text = super().format(record)
            if journal:
                level = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}
                return f"<{level.get(record.levelname, 6)}>{text}"
            return text

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Prefix("%(message)s" if journal else
                                "%(asctime)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])


class KioskGroup(click.Group):
    """A click group whose usage errors are one line on stderr (`Error: …`), exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as error:
            message = " ".join(error.format_message().split())
            click.echo(f"Error: {message}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=KioskGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=f"An example config, every key explained: {EXAMPLE_CONFIG}")
@click.version_option(__version__, prog_name="kiosk")
def main():
    """A four-button feedback kiosk: record every press, send it to the hub.

    \b
    Examples:
      kiosk run --simulate 60 --config kiosk.toml
      kiosk status --json
      kiosk selftest
    """


@main.command()
@click.option("--config", "config_path", metavar="PATH", help=CONFIG_HELP)
@click.option("--simulate", "rate", type=click.FloatRange(0, None), metavar="RATE",
              help="Mock pins; press random buttons RATE times a minute (0: none; at most 1200).")
@click.option("--keyboard", is_flag=True, help="Mock pins; keys 1-4 on this terminal press them.")
@click.option("--verbose", is_flag=True, help="Also log debug lines (e.g. ignored bounce).")
def run(config_path, rate, keyboard, verbose):
    """Run the kiosk daemon (systemd runs this).

    Records each press durably before the thank-you LED lights, and syncs in the background.
    SIGTERM or Ctrl-C stores everything queued and exits 0.

    \b
    Examples:
      kiosk run                                   # on the Pi, /etc/kiosk/kiosk.toml
      kiosk run --config kiosk.toml --simulate 30 # a laptop demo, 30 presses a minute
      kiosk run --config kiosk.toml --keyboard    # keys 1-4 press the buttons
    """
    from kiosk.buttons import NoGPIO, default_pin_factory
    from kiosk.daemon import Daemon
    from kiosk.simulate import MAX_RATE, keyboard_thread, start_simulation

    config = _config(config_path)
    if keyboard and not sys.stdin.isatty():
        _fail("--keyboard: standard input is not a terminal", 2)
    if rate is not None and rate > MAX_RATE:
        _fail(f"--simulate: at most {MAX_RATE} presses a minute (closer presses are bounce)", 2)
    try:
        kiosk_clock = clock.Clock.from_environment()
    except ValueError as error:
        _fail(str(error), 2)
    _setup_logging(verbose)
    log = logging.getLogger("kiosk")
    if kiosk_clock.faked:
        log.warning("%s is set: the wall clock is shifted by %ss (tests only)",
                    clock.FAKE_OFFSET_ENV if not os.environ.get(clock.FAKE_OFFSET_FILE_ENV)
                    else clock.FAKE_OFFSET_FILE_ENV, kiosk_clock.offset.total_seconds())
    # Blocked here, so every thread started later inherits the mask and only the main
    # thread ever takes a stop signal, in _wait_for_stop.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    mock = rate is not None or keyboard
    try:
        if mock:
            from gpiozero.pins.mock import MockFactory

            factory = MockFactory()
        else:
            factory = default_pin_factory()
    except NoGPIO as e:
        _fail(f"kiosk: {e}")
    try:  # held until the process ends: selftest sees a running daemon by it
        lock = running.DaemonLock.claim(config.data_dir)
    except running.AlreadyRunning as e:
        _fail(f"kiosk: {e}")
    except OSError as e:  # data_dir not there yet: the writer says so and retries
        log.warning("cannot lock %s/%s: %s", config.data_dir, running.PID_FILE, e.strerror)
        lock = None
    daemon = Daemon(config, factory, clock=kiosk_clock)
    try:
        daemon.start()
    except Exception as e:  # pins busy or missing: one line, not a traceback
        daemon.stop()
        _fail(f"kiosk: cannot set up the buttons: {e}")
    if rate:
        start_simulation(daemon.hardware.buttons, rate, daemon.stop_event)
        log.info("simulating %g presses a minute on mock pins", rate)
    keys = keyboard_thread(daemon.hardware.buttons, daemon.stop_event) if keyboard else None
    failed = False
    try:
        received = _wait_for_stop(daemon.stop_event, log)  # --keyboard's q sets the event
        if received is not None:
            log.info("%s received", received.name)
    except Exception:  # a bug: stop the whole daemon, never live on deaf to SIGTERM
        log.exception("the main loop failed; stopping")
        failed = True
    log.info("stopping: storing what is queued")
    try:
        daemon.stop()
    except Exception:  # the writer may still be running: exit rather than hang half-stopped
        log.exception("the stop failed; exiting without it")
        os._exit(1)
    if keys is not None:
        keys.join(5)  # it restores the terminal; a daemon thread would be cut off at exit
    if lock is not None:
        lock.release()
    sys.exit(1 if failed or daemon.failed else 0)


def _wait_for_stop(stop_event, log, poll_s=1.0):
    """Wait in the main thread for SIGTERM or SIGINT (returned) or *stop_event* (None).

    The signals are blocked in every other thread. Here they are unblocked, with a handler
    that does nothing (one that set an Event would take its lock, and a second signal landing
    inside it hung the stop) and the wakeup fd, which writes each signal's number to a pipe
    that select() watches. Not signal.sigtimedwait: after a pause (SIGSTOP, a debugger, a
    frozen VM) longer than its timeout, CPython returns an unfilled siginfo, whose garbage
    number may even name a real signal. select() comes back empty after such a pause.
    """
    reader, writer = os.pipe()
    for fd in (reader, writer):
        os.set_blocking(fd, False)
    for number in STOP_SIGNALS:
        signal.signal(number, _ignore)
    signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        while not stop_event.is_set():
            ready, _, _ = select.select([reader], [], [], poll_s)
            for number in os.read(reader, 64) if ready else b"":
                if number in STOP_SIGNALS:
                    return signal.Signals(number)
                log.warning("signal wait: unexpected signal number %d ignored", number)
        return None
    finally:  # blocked again: a second SIGTERM while stopping stays pending, unheard
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        signal.set_wakeup_fd(-1)
        os.close(reader)
        os.close(writer)


def _ignore(signum, frame):
    """The stop signals' handler: their number reaches _wait_for_stop by the wakeup fd."""


@main.command()
@click.option("--config", "config_path", metavar="PATH", help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
def status(config_path, as_json):
    """What is queued, the last sync and its error, the clock.

    Reads the buffer without disturbing a running daemon.

    \b
    Examples:
      kiosk status
      kiosk status --config kiosk.toml --json
    """
    from kiosk.store import PressBuffer, StoreError, status_without_buffer

    config = _config(config_path)
    try:
        buffer = PressBuffer(config.data_dir, readonly=True, device_id=config.device_id,
                             max_presses=config.max_buffer_presses)
    except StoreError as e:
        if not e.missing:
            _fail(f"kiosk status: {e}")
        buffer = None  # before the daemon's first start: nothing recorded, nothing queued
        state = status_without_buffer(config.device_id)
    except Exception as e:  # a locked or damaged file: say which, no traceback
        _fail(f"kiosk status: cannot read the buffer in {config.data_dir}: {e}")
    if buffer is not None:
        try:
            state = buffer.status()
        except Exception as e:
            _fail(f"kiosk status: cannot read the buffer in {config.data_dir}: {e}")
        finally:
            buffer.close()
    if as_json:
        click.echo(json.dumps(state, indent=2))
        return
    synced = "NTP-synchronised" if state["clock_synced"] else "NOT NTP-synchronised"
    skew = state["clock_skew_s"]
    rows = [
        ("device", state["device_id"]),
        ("recorded", f"up to seq {state['recorded_total']}"),
        ("queued", f"{state['queued']}" + (f" (oldest {state['oldest_queued_at']})"
                                           if state["oldest_queued_at"] else "")),
        ("parked", state["parked"]),
        ("buffer", (f"none yet in {config.data_dir}: the daemon has not run"
                    if buffer is None else
                    "FULL: only unsynced presses left" if state["buffer_full"] else "ok")
         + (f" (card {state['buffer_id']})" if state.get("buffer_id") else "")),
    ]
    renumbered, resent = state.get("renumbered"), state.get("resent")
    if renumbered:  # a card swap, seen by the hub
        rows.append(("renumbered", f"{renumbered['presses']} presses as seqs "
                     f"{renumbered['from']}-{renumbered['to']} at {renumbered['at']}: the hub "
                     "held those seqs from another card of this device"))
    if resent:
        rows.append(("resent", f"{resent['presses']} synced presses at {resent['at']}: the "
                     f"hub held only seqs 1-{resent['held_through']} (restored from a backup?)"))
    rows += [
        ("last sync", state["last_sync_at"] or "never"),
        ("sync error", state["last_sync_error"] or "none"),
        ("clock", synced + ("" if skew is None else f", {skew:+.1f}s from the hub")),
        ("boot", state["boot_id"]),
    ]
    for name, value in rows:
        click.echo(f"{name:<11} {value}")


@main.command()
@click.option("--config", "config_path", metavar="PATH", help=CONFIG_HELP)
@click.option("--simulate", is_flag=True, help="Mock pins: check the rest off a Raspberry Pi.")
def selftest(config_path, simulate):
    """Check config, pins, daemon, storage, clock and the hub, one line each.

    Exits 1 if any check FAILs (WARN does not). While the daemon runs it holds the pins:
    they are not claimed again, the daemon is checked instead (its process, kiosk.service,
    its last sync). The hub check sends an empty batch with the token: a wrong token FAILs.

    \b
    Examples:
      kiosk selftest                                    # on the Pi, while kiosk.service runs
      sudo systemctl stop kiosk && kiosk selftest; sudo systemctl start kiosk  # real pins
      kiosk selftest --simulate --config kiosk.toml     # on a laptop
    """
    from kiosk import selftest as checks

    results = []

    def line(name, ok, detail):
        word = {True: "OK", False: "FAIL", None: "WARN"}[ok]
        results.append(ok)
        click.echo(f"{name:<8} {word:<4} {detail}")

    try:
        config = load_config(config_path)
    except ConfigError as e:
        line("config", False, str(e))
        sys.exit(1)
    line("config", True, config.path)
    pid = checks.daemon_pid(config)
    line("pins", *checks.check_pins(config, pid, simulate))
    ok, detail, state = checks.check_storage(config)
    line("daemon", *checks.check_daemon(config, pid, running.service_state(), state))
    line("storage", ok, detail)
    line("clock", *checks.check_clock())
    line("hub", *checks.check_hub(config))
    sys.exit(1 if False in results else 0)
