"""The `kiosk` command line: one line and exit 2 for a bad config, status, selftest, help."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.store import PressBuffer
from tests.kiosk.helpers import press, write_config


def invoke(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.mark.parametrize("body, buttons, message", [
    ("", "[buttons]\nvery_unhappy = 5\nunhappy = 6\nhappy = \"x\"\nvery_happy = 19\n",
     'buttons.happy: expected a BCM pin number 0-27, got "x"'),
    ('hub_url = "gopher://hub"', None,
     'hub_url: expected an http:// or https:// URL, got "gopher://hub"'),
    ("lockout_s = -2", None, "lockout_s: expected a number at least 0, got -2"),
    ("colour = 1", None, "colour: unknown key (known: "),
])
@pytest.mark.parametrize("command", ["run", "status", "selftest"])
def test_a_bad_config_is_one_line_and_exit_2(tmp_path, body, buttons, message, command):
    path = write_config(tmp_path, body, **({"buttons": buttons} if buttons else {}))
    result = invoke(command, "--config", str(path))
    if command == "selftest":  # selftest reports it as its first check
        assert result.exit_code == 1 and result.stdout.startswith(f"config   FAIL {message}")
        return
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_the_real_command_prints_no_traceback(tmp_path):
    path = write_config(tmp_path, buttons="[buttons]\nhappy = 99\n")
    result = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr == "buttons.very_unhappy: required (a BCM pin number 0-27)\n"


def test_config_from_the_environment(tmp_path):
    path = write_config(tmp_path, "lockout_s = -1")
    result = invoke("status", env={"KIOSK_CONFIG": str(path)})
    assert result.exit_code == 2 and result.stderr.startswith("lockout_s:")


def test_status_json_and_human(tmp_path):
    path = write_config(tmp_path)
    buffer = PressBuffer(tmp_path / "data")
    for n in range(3):
        buffer.record(press(n))
    buffer.mark_synced([1])
    buffer.set_meta("last_sync_error", "HTTP 503 unavailable: busy")
    buffer.close()
    result = invoke("status", "--config", str(path), "--json")
    assert result.exit_code == 0
    state = json.loads(result.stdout)
    assert {k: state[k] for k in ("device_id", "recorded_total", "queued", "oldest_queued_at",
                                  "last_sync_at", "last_sync_error")} == {
        "device_id": "kiosk-test-1", "recorded_total": 3, "queued": 2,
        "oldest_queued_at": "2026-11-22T10:15:04.120Z", "last_sync_at": None,
        "last_sync_error": "HTTP 503 unavailable: busy"}
    assert isinstance(state["clock_synced"], bool) and state["boot_id"]
    human = invoke("status", "--config", str(path)).stdout
    assert "queued      2 (oldest 2026-11-22T10:15:04.120Z)" in human
    assert "sync error  HTTP 503 unavailable: busy" in human


def test_status_before_the_first_run_is_zeros_not_an_error(tmp_path):
    """Right after an install, before the daemon ever ran: the JSON a script reads."""
    path = write_config(tmp_path)
    result = invoke("status", "--config", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    state = json.loads(result.stdout)
    assert {k: state[k] for k in ("device_id", "recorded_total", "queued", "oldest_queued_at",
                                  "last_sync_at", "last_sync_error", "parked")} == {
        "device_id": "kiosk-test-1", "recorded_total": 0, "queued": 0,
        "oldest_queued_at": None, "last_sync_at": None, "last_sync_error": None, "parked": 0}
    assert isinstance(state["clock_synced"], bool) and state["boot_id"]
    human = invoke("status", "--config", str(path))
    assert human.exit_code == 0 and f"none yet in {tmp_path / 'data'}" in human.stdout
    assert not (tmp_path / "data").exists()  # status creates nothing
    buffer = PressBuffer(tmp_path / "data", device_id="kiosk-test-1")
    assert set(buffer.status()) == set(state)  # the same keys as with a buffer
    buffer.close()


def _checks(result):
    """{check: (word, detail)} of selftest's output."""
    lines = [line.split(None, 2) for line in result.stdout.splitlines()]
    return {name: (word, detail) for name, word, detail in lines}


def test_selftest_on_mock_pins_with_a_hub_that_does_not_answer(tmp_path):
    from tests.support import free_port

    url = f"http://127.0.0.1:{free_port()}"
    path = write_config(tmp_path, f'hub_url = "{url}"\ntoken = "t0ken"')
    result = invoke("selftest", "--config", str(path), env={"GPIOZERO_PIN_FACTORY": "mock"})
    checks = _checks(result)
    assert list(checks) == ["config", "pins", "daemon", "storage", "clock", "hub"]
    assert [checks[name][0] for name in ("config", "pins", "storage")] == ["OK"] * 3
    assert checks["daemon"][0] == "WARN"  # nothing runs here
    assert checks["hub"] == ("FAIL", f"{url}: hub unreachable: connection refused")
    assert result.exit_code == 1 and "t0ken" not in result.stdout


def test_selftest_checks_the_token_with_the_hub(tmp_path):
    """A wrong token was "hub OK" (the check only fetched /healthz): now a FAIL that names
    the token file; the right one is OK."""
    from tests.sync.fakes import TOKEN, FakeHub

    hub = FakeHub()
    token = tmp_path / "token"
    path = write_config(tmp_path, f'hub_url = "{hub.url}"\ntoken_file = "{token}"')
    try:
        token.write_text("an-old-token\n")
        result = invoke("selftest", "--config", str(path), "--simulate")
        word, detail = _checks(result)["hub"]
        assert word == "FAIL" and result.exit_code == 1
        assert detail.startswith(f"{hub.url} refuses the token in {token} (HTTP 401 ")
        assert "hub device rotate-token kiosk-test-1" in detail
        token.write_text(TOKEN + "\n")
        result = invoke("selftest", "--config", str(path), "--simulate")
        assert _checks(result)["hub"] == (
            "OK", f"{hub.url} accepts the token in {token} for kiosk-test-1")
        (sent,) = [body for _, body, _ in hub.requests[-1:]]
        assert sent["presses"] == [] and not hub.presses  # a probe that stores nothing
        hub.auth_status = 403
        word, detail = _checks(invoke("selftest", "--config", str(path), "--simulate"))["hub"]
        assert word == "FAIL" and "refuses device_id kiosk-test-1 with the token in" in detail
    finally:
        hub.close()
    assert TOKEN not in result.stdout


def test_selftest_says_a_hub_name_does_not_resolve_in_plain_words(tmp_path):
    path = write_config(tmp_path, 'hub_url = "https://hub.example.invalid"\ntoken = "t"')
    word, detail = _checks(invoke("selftest", "--config", str(path), "--simulate"))["hub"]
    assert word == "FAIL"
    assert detail.startswith("https://hub.example.invalid: hub unreachable: cannot resolve "
                             "hub.example.invalid (")
    assert "Errno" not in detail and "Error" not in detail


def test_selftest_off_a_pi_suggests_simulate_and_simulate_works(tmp_path):
    try:
        import lgpio  # noqa: F401
        pytest.skip("lgpio is installed: this may be a Pi")
    except ImportError:
        pass
    path = write_config(tmp_path)
    env = {k: None for k in os.environ if k.startswith("GPIOZERO_")}
    word, detail = _checks(invoke("selftest", "--config", str(path), env=env))["pins"]
    assert word == "FAIL" and detail.startswith("no GPIO pins found (")
    assert detail.endswith("off a Raspberry Pi use `kiosk selftest --simulate`")
    result = invoke("selftest", "--config", str(path), "--simulate", env=env)
    assert _checks(result)["pins"] == (
        "OK", "buttons very_unhappy=5, unhappy=6, happy=13, very_happy=19 (mock pins)")
    assert result.exit_code == 0, result.stdout


def test_selftest_fails_a_service_that_keeps_restarting(tmp_path):
    """systemd's view, where there is one: a crash-looping kiosk.service is a FAIL."""
    stub = tmp_path / "bin" / "systemctl"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\nprintf 'LoadState=loaded\\nActiveState=activating\\n"
                    "SubState=auto-restart\\nNRestarts=12\\nResult=exit-code\\n'\n")
    stub.chmod(0o755)
    path = write_config(tmp_path)
    result = invoke("selftest", "--config", str(path), "--simulate",
                    env={"PATH": f"{stub.parent}:{os.environ['PATH']}"})
    word, detail = _checks(result)["daemon"]
    assert word == "FAIL" and result.exit_code == 1
    assert "kiosk.service activating (auto-restart), result exit-code" in detail
    assert "journalctl -u kiosk -b" in detail


def test_the_example_config_is_named_by_help_and_is_one_a_kiosk_runs_with(tmp_path):
    from kiosk.cli import EXAMPLE_CONFIG
    from kiosk.config import parse_config

    assert f"An example config, every key explained: {EXAMPLE_CONFIG}" in " ".join(
        invoke("--help").stdout.split())
    text = EXAMPLE_CONFIG.read_text()
    import tomllib

    data = tomllib.loads(text)
    # As deploy/flash requires: the token and the buffer where the install puts them.
    assert (data["token_file"], data["data_dir"]) == ("/etc/kiosk/token", "/var/lib/kiosk")
    (tmp_path / "token").write_text("t0ken\n")
    config = parse_config({**data, "token_file": str(tmp_path / "token")})
    assert config.buttons == {"very_unhappy": 5, "unhappy": 6, "happy": 13, "very_happy": 19}
    assert config.leds == {"thanks": 26} and config.hub_url == "https://hub.example.org"


def test_the_example_config_is_named_where_a_technician_looks():
    repo = Path(__file__).resolve().parents[2]
    flash = subprocess.run([str(repo / "deploy/flash"), "--help"], capture_output=True,
                           text=True, timeout=30)
    assert "kiosk/kiosk.example.toml" in flash.stdout
    for guide in ("docs/technician.md", "docs/kiosk.md"):
        assert "kiosk/kiosk.example.toml" in (repo / guide).read_text(), guide


def test_run_refuses_off_a_pi_without_mock_pins(tmp_path):
    pytest.importorskip("gpiozero")
    try:
        import lgpio  # noqa: F401
        pytest.skip("lgpio is installed: this may be a Pi")
    except ImportError:
        pass
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPIOZERO_", "KIOSK_"))}
    result = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config",
                             str(write_config(tmp_path))],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "no GPIO pins found" in result.stderr
    assert "--simulate RATE or GPIOZERO_PIN_FACTORY=mock" in result.stderr
    assert not (tmp_path / "data").exists()  # stopped before touching anything


@pytest.mark.parametrize("command", [[], ["run"], ["status"], ["selftest"]])
def test_every_help_has_an_example(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0 and "Example" in result.stdout and "kiosk " in result.stdout


def test_simulate_rate_above_the_debounce_limit_is_refused(tmp_path):
    result = invoke("run", "--config", str(write_config(tmp_path)), "--simulate", "5000")
    assert result.exit_code == 2 and result.stderr.startswith("--simulate: at most 1200")


@pytest.mark.parametrize("name, message", [
    ("native", "GPIOZERO_PIN_FACTORY=native: cannot use it here: "),
    ("bogus", "GPIOZERO_PIN_FACTORY=bogus: no such pin factory (known: "),
])
def test_a_named_pin_factory_that_cannot_load_is_one_line(tmp_path, name, message):
    if Path("/proc/device-tree/model").exists():
        pytest.skip("a board with a device tree: the native factory may work here")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPIOZERO_", "KIOSK_"))}
    env["GPIOZERO_PIN_FACTORY"] = name
    result = subprocess.run([sys.executable, "-m", "kiosk", "run", "--config",
                             str(write_config(tmp_path))],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("kiosk: " + message)
    assert "Traceback" not in result.stderr
