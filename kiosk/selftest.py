"""The checks of `kiosk selftest`. Each returns (ok, detail): ok is True (OK), False (FAIL)
or None (WARN); detail is one line in plain words.

While the daemon runs it holds the pins: they are not claimed again (that fails on a Pi,
and a failure technicians learn to ignore hides real ones); the daemon is checked instead:
its process (data_dir's lock, kiosk.running), systemd's view of kiosk.service, its last sync.
"""

import os
import tempfile
from datetime import UTC, datetime

from kiosk import clock, running
from kiosk.hub_client import HubClient, SyncFailure, classify, contract_answer, error_message
from kiosk.sync import SKEW_WARN_S, parse_utc

HUB_TIMEOUT_S = (5.0, 10.0)
STOP_HINT = "sudo systemctl stop kiosk"


def check_pins(config, daemon_pid, simulate=False):
    """Claim the buttons and LEDs (and let them go) unless the daemon holds them."""
    from kiosk.buttons import Hardware, NoGPIO, default_pin_factory

    wired = f"buttons {_pins(config.buttons)}" + (f", LEDs {_pins(config.leds)}"
                                                  if config.leds else "")
    if daemon_pid is not None:
        return True, (f"held by the running daemon (pid {daemon_pid or '?'}), not claimed "
                      f"again: {wired}; to test them, `{STOP_HINT}` first")
    try:
        if simulate:
            from gpiozero.pins.mock import MockFactory

            factory = MockFactory()
        else:
            factory = default_pin_factory()
    except NoGPIO as e:
        return False, f"{e.reason}; off a Raspberry Pi use `kiosk selftest --simulate`"
    try:
        hardware = Hardware(config, factory, lambda mood: None)
    except Exception as e:  # busy, no permission, no such pin: one line
        return False, (f"cannot claim the pins ({type(e).__name__}: {e}); another program "
                       "holds them? permission (group gpio)?")
    hardware.close()
    mock = " (mock pins)" if simulate or type(factory).__name__ == "MockFactory" else ""
    return True, wired + mock


def check_daemon(config, daemon_pid, service, buffer_state=None):
    """Is `kiosk run` running on this data_dir, and what does systemd say of kiosk.service?"""
    if daemon_pid is not None:
        ok, words = True, f"kiosk run is running (pid {daemon_pid or '?'})"
    else:
        ok, words = None, f"no kiosk run is using {config.data_dir}: presses are not recorded"
    if service is not None:
        active, sub = service.get("ActiveState", "?"), service.get("SubState", "?")
        restarts = int(service.get("NRestarts") or 0)
        words += f"; {running.UNIT} {active} ({sub})"
        if active == "failed" or (active == "activating" and sub == "auto-restart"):
            ok = False
            words += f", result {service.get('Result', '?')}: `journalctl -u kiosk -b` says why"
        elif restarts:
            ok = None if ok else ok  # running but restarting: WARN; not running: as it was
            words += f", restarted {restarts} times: `journalctl -u kiosk -b` says why"
        elif active == "inactive" and daemon_pid is None:
            words += ": `sudo systemctl start kiosk`"
    if daemon_pid is not None and buffer_state is not None and config.hub_url:
        error, last = buffer_state.get("last_sync_error"), buffer_state.get("last_sync_at")
        words += f"; its last sync failed: {error}" if error else \
            f"; last sync {last}" if last else "; not synced yet"
    return ok, words


def check_storage(config):
    """data_dir writable (a file written and fsynced), the buffer readable and undamaged."""
    from kiosk.store import PressBuffer, StoreError

    try:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=config.data_dir, prefix=".selftest-") as f:
            f.write(b"ok")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return False, f"{config.data_dir} is not writable: {e.strerror}", None
    try:
        buffer = PressBuffer(config.data_dir, readonly=True, device_id=config.device_id)
    except StoreError:
        return True, f"{config.data_dir} writable (no buffer yet)", None
    try:
        check = buffer.conn.execute("PRAGMA quick_check").fetchone()[0]
        state = buffer.status()
    except Exception as e:
        return False, f"{buffer.path} cannot be read: {e}", None
    finally:
        buffer.close()
    if check != "ok":
        return False, f"{buffer.path} is damaged: {check}", None
    return True, f"{buffer.path} ok, {state['queued']} queued", state


def check_clock():
    if clock.clock_synced():
        return True, "NTP-synchronised"
    return None, "not NTP-synchronised yet (presses are placed by uptime)"


def check_hub(config, now=None):
    """The hub answers, is the hub, and accepts this kiosk's token and device_id: an empty
    batch, which stores nothing (the probe the sync loop uses too)."""
    if not config.hub_url:
        return None, "no hub_url: presses stay on this kiosk"
    url = config.hub_url
    now = now or (lambda: datetime.now(UTC))
    client = HubClient(url, config.token, config.ca_file, HUB_TIMEOUT_S)
    body = {"device_id": config.device_id, "boot_id": clock.boot_id(),
            "uptime_ms": clock.uptime_ms(), "presses": []}
    sent = now()
    try:
        response = client.post("/api/v1/presses", body)
        received = now()
    except SyncFailure as failure:
        return False, f"{url}: {failure.message}"
    finally:
        client.close()
    status = response.status_code
    token = f"the token in {config.token_file or config.path}"
    if status == 401:
        return False, (f"{url} refuses {token} (HTTP 401 {error_message(response)}): wrong or "
                       f"revoked; `hub device rotate-token {config.device_id}` makes a new one")
    if status == 403:
        return False, (f"{url} refuses device_id {config.device_id} with {token} (HTTP 403 "
                       f"{error_message(response)}): is it another device's token?")
    try:
        if not 200 <= status < 300:
            raise classify(response)
        answer = contract_answer(response, 0)
    except SyncFailure as failure:
        return False, f"{url}: {failure.message}"
    detail = f"{url} accepts {token} for {config.device_id}"
    server_time = parse_utc(answer.get("server_time"))
    if server_time is None:
        return True, detail
    skew = (sent + (received - sent) / 2 - server_time).total_seconds()
    if abs(skew) > SKEW_WARN_S:
        return None, (f"{detail}, but this Pi's clock is {_duration(abs(skew))} "
                      f"{'ahead of' if skew > 0 else 'behind'} the hub's")
    return True, detail


def daemon_pid(config):
    return running.holder(config.data_dir)


def _duration(seconds):
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _pins(pins):
    return ", ".join(f"{name}={pin}" for name, pin in pins.items())
