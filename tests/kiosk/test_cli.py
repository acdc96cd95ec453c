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


def test_status_before_the_first_run(tmp_path):
    result = invoke("status", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 1 and "no press buffer" in result.stderr
    assert not (tmp_path / "data").exists()  # status creates nothing


def test_selftest_on_mock_pins_with_a_hub_that_does_not_answer(tmp_path):
    from tests.support import free_port

    path = write_config(tmp_path, f'hub_url = "http://127.0.0.1:{free_port()}"\n'
                        'token = "t0ken"')
    result = invoke("selftest", "--config", str(path), env={"GPIOZERO_PIN_FACTORY": "mock"})
    lines = result.stdout.splitlines()
    assert [line.split()[0:2] for line in lines[:3]] == [
        ["config", "OK"], ["pins", "OK"], ["storage", "OK"]]
    assert lines[3].startswith("clock")
    assert lines[4].startswith("hub      FAIL http://127.0.0.1:")
    assert result.exit_code == 1 and "t0ken" not in result.stdout


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
