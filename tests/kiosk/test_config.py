"""The config file: defaults, and one line naming the key for everything wrong."""

import pytest

from kiosk.config import ConfigError, load_config, parse_config
from tests.kiosk.helpers import write_config

GOOD = {"device_id": "ams-security-03", "data_dir": "/var/lib/kiosk",
        "buttons": {"very_unhappy": 5, "unhappy": 6, "happy": 13, "very_happy": 19}}


def parsed(**changes):
    data = {**GOOD, **changes}
    return parse_config({k: v for k, v in data.items() if v is not None})


def error(**changes):
    with pytest.raises(ConfigError) as caught:
        parsed(**changes)
    return str(caught.value)


def test_defaults():
    config = parsed()
    assert config.lockout_s == 2.0 and config.sync_interval_s == 30
    assert config.max_buffer_presses == 1_000_000 and config.batch_size == 500
    assert config.keep_synced_days == 30 and config.hub_url is None and config.leds == {}
    assert list(config.buttons) == ["very_unhappy", "unhappy", "happy", "very_happy"]


def test_the_design_example_with_a_token_file(tmp_path):
    (tmp_path / "token").write_text("s3cret-token\n")
    path = write_config(tmp_path, f'hub_url = "https://hub.example.org/"\n'
                        f'token_file = "{tmp_path / "token"}"\nlockout_s = 2.0\n'
                        "sync_interval_s = 0.5\n", leds="[leds]\nthanks = 26\n")
    config = load_config(path)
    assert config.hub_url == "https://hub.example.org" and config.token == "s3cret-token"
    assert config.sync_interval_s == 0.5 and config.leds == {"thanks": 26}
    assert "s3cret" not in repr(config)


def test_the_environment_names_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_CONFIG", str(write_config(tmp_path)))
    assert load_config().device_id == "kiosk-test-1"


@pytest.mark.parametrize("changes, message", [
    ({"buttons": {**GOOD["buttons"], "happy": "x"}},
     'buttons.happy: expected a BCM pin number 0-27, got "x"'),
    ({"buttons": {**GOOD["buttons"], "happy": 28}},
     "buttons.happy: expected a BCM pin number 0-27, got 28"),
    ({"buttons": {**GOOD["buttons"], "happy": True}},
     "buttons.happy: expected a BCM pin number 0-27, got true"),
    ({"buttons": {**GOOD["buttons"], "happy": 5}},
     "buttons.happy: pin 5 is already used by buttons.very_unhappy"),
    ({"buttons": {"very_unhappy": 5, "unhappy": 6, "happy": 13}},
     "buttons.very_happy: required (a BCM pin number 0-27)"),
    ({"buttons": {**GOOD["buttons"], "angry": 7}}, "buttons.angry: unknown key"),
    ({"leds": {"thanks": 13}}, "leds.thanks: pin 13 is already used by buttons.happy"),
    ({"leds": {"thanks": 26, "happy": 20}}, "leds.thanks: use either one thanks LED"),
    ({"leds": {"happy": 20, "unhappy": 20}}, "leds.happy: pin 20 is already used by "
                                             "leds.unhappy"),
    ({"lockout_s": -1}, "lockout_s: expected a number at least 0, got -1"),
    ({"lockout_s": "2"}, 'lockout_s: expected a number at least 0, got "2"'),
    ({"sync_interval_s": 0}, "sync_interval_s: expected a number greater than 0, got 0"),
    ({"batch_size": 5000}, "batch_size: expected a whole number 1-1000, got 5000"),
    ({"max_buffer_presses": 0}, "max_buffer_presses: expected a whole number 1-"),
    ({"device_id": "ams security"}, 'device_id: expected letters, digits'),
    ({"device_id": None}, "device_id: required"),
    ({"hub_url": "ftp://hub"}, 'hub_url: expected an http:// or https:// URL, got "ftp://hub"'),
    ({"hub_url": "https://hub.example.org"}, "token_file: required with hub_url"),
    ({"hub_url": "https://hub", "token": "a", "token_file": "/t"}, "token: give token or "),
    ({"hub_url": "https://hub", "token_file": "/nonexistent/token"},
     "token_file: cannot read /nonexistent/token: No such file or directory"),
    ({"hub_url": "https://hub", "token": "t", "ca_file": "/nonexistent/ca.pem"},
     "ca_file: no such file: /nonexistent/ca.pem"),
    ({"colour": "red"}, "colour: unknown key"),
    ({"a\nb": 1}, '"a\\nb": unknown key'),  # a quoted key with a newline: still one line
    ({"leds": {"thanks\r": 26}}, 'leds."thanks\\r": unknown key'),  # TOML's dotted form
])
def test_a_bad_config_names_the_key(changes, message):
    text = error(**changes)
    assert text.startswith(message) and "\n" not in text


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('device_id = "x\n')
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML: .*line 1"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml")


def test_a_ca_file_that_holds_no_certificate_is_refused_at_start(tmp_path):
    """Not a TLS error at the first sync, hours later: one line naming the key and file."""
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN NOTHING-----\n")
    text = error(hub_url="https://hub", token="t", ca_file=str(ca))
    assert text == f"ca_file: {ca} holds no PEM certificate"
    missing = error(hub_url="https://hub", token="t", ca_file=str(tmp_path / "none.pem"))
    assert "deploy/flash and deploy/provision install it with --ca-file" in missing


def test_the_token_file_is_remembered_to_be_read_again(tmp_path):
    (tmp_path / "token").write_text("t0ken\n")
    config = parsed(hub_url="https://hub", token_file=str(tmp_path / "token"))
    assert (config.token, config.token_file) == ("t0ken", str(tmp_path / "token"))
    assert parsed(hub_url="https://hub", token="inline").token_file is None
