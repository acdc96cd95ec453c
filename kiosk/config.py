"""The kiosk's TOML config, validated into a frozen `Config`.

Looked for at `--config PATH`, else `$KIOSK_CONFIG`, else /etc/kiosk/kiosk.toml. Anything
wrong raises `ConfigError` with one line that names the key in dotted form, e.g.
`buttons.happy: expected a BCM pin number 0-27, got "x"`.
"""

import json
import math
import os
import re
import ssl
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = "/etc/kiosk/kiosk.toml"
MOODS = ("very_unhappy", "unhappy", "happy", "very_happy")  # mood value = index + 1
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)  # as the hub accepts
MAX_BATCH = 1000  # the hub refuses larger batches


class ConfigError(Exception):
    """A config the kiosk cannot run with; str() is the one line to show the user."""


@dataclass(frozen=True)
class Config:
    device_id: str
    data_dir: Path
    buttons: dict  # mood name -> BCM pin, in mood order
    leds: dict = field(default_factory=dict)  # mood name or "thanks" -> BCM pin
    hub_url: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None  # where token came from; re-read when the hub refuses it
    ca_file: str | None = None
    lockout_s: float = 2.0
    sync_interval_s: float = 30.0
    max_buffer_presses: int = 1_000_000
    batch_size: int = 500
    keep_synced_days: float = 30.0
    path: str | None = None  # where it was read from


def config_path(path=None):
    """The config file to read: *path*, else $KIOSK_CONFIG, else /etc/kiosk/kiosk.toml."""
    return str(path or os.environ.get("KIOSK_CONFIG") or DEFAULT_PATH)


def load_config(path=None):
    """Read and validate the config file; raises ConfigError."""
    path = config_path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (give --config PATH or set "
                          "$KIOSK_CONFIG)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_config(data, path)


def parse_config(data, path=None):
    """A Config from the decoded TOML *data*; raises ConfigError naming the key."""
    known = {"device_id", "hub_url", "token", "token_file", "ca_file", "data_dir", "lockout_s",
             "sync_interval_s", "max_buffer_presses", "batch_size", "keep_synced_days",
             "buttons", "leds"}
    _no_unknown(data, known, "")
    device_id = _required(data, "device_id")
    if not isinstance(device_id, str) or not DEVICE_ID.fullmatch(device_id):
        raise _bad("device_id", "letters, digits, '.', '_' or '-' (at most 64)", device_id)
    values = {"device_id": device_id, "path": path}
    values["data_dir"] = Path(_string(data, "data_dir", "/var/lib/kiosk"))
    values["lockout_s"] = _number(data, "lockout_s", 2.0, minimum=0)
    values["sync_interval_s"] = _number(data, "sync_interval_s", 30.0, minimum=0, strict=True)
    values["keep_synced_days"] = _number(data, "keep_synced_days", 30.0, minimum=0)
    values["max_buffer_presses"] = _integer(data, "max_buffer_presses", 1_000_000, 1, 10**12)
    values["batch_size"] = _integer(data, "batch_size", 500, 1, MAX_BATCH)
    values.update(_hub(data))
    values["buttons"] = _buttons(data)
    values["leds"] = _leds(data, values["buttons"])
    return Config(**values)


def _hub(data):
    hub_url = data.get("hub_url")
    if hub_url is None:
        return {}
    if not isinstance(hub_url, str) or not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?",
                                                        hub_url):
        raise _bad("hub_url", "an http:// or https:// URL", hub_url)
    if "token" in data and "token_file" in data:
        raise ConfigError("token: give token or token_file, not both")
    token_file = None
    if "token_file" in data:
        token_file = _string(data, "token_file", None)
        try:
            token = read_token(token_file)
        except ValueError as e:
            raise ConfigError(f"token_file: {e}") from None
    elif "token" in data:
        token = _string(data, "token", None)
        if not token.strip():
            raise ConfigError("token: must not be empty")
    else:
        raise ConfigError("token_file: required with hub_url (or token = \"...\")")
    ca_file = data.get("ca_file")
    if ca_file is not None:
        ca_file = _string(data, "ca_file", None)
        _check_ca_file(ca_file)
    return {"hub_url": hub_url.rstrip("/"), "token": token.strip(), "token_file": token_file,
            "ca_file": ca_file}


def read_token(path):
    """The device token in the file *path*, stripped; ValueError with one line if there is
    none (cannot read it, or empty)."""
    try:
        token = Path(path).read_text().strip()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text") from None
    if not token:
        raise ValueError(f"{path} is empty")
    return token


def _check_ca_file(path):
    """A ca_file the HTTPS client can use: readable PEM with at least one certificate. Checked
    at start, so a CA file that never arrived is one line naming it, not a TLS error later."""
    if not os.path.isfile(path):
        raise ConfigError(f"ca_file: no such file: {path} (the hub's CA certificate, PEM; "
                          "deploy/flash and deploy/provision install it with --ca-file)")
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError:  # an OSError too: first
        raise ConfigError(f"ca_file: {path} holds no PEM certificate") from None
    except OSError as e:
        raise ConfigError(f"ca_file: cannot read {path}: {e.strerror}") from None


def _buttons(data):
    table = _required(data, "buttons")
    if not isinstance(table, dict):
        raise _bad("buttons", f"a table of four pins ({', '.join(MOODS)})", table)
    _no_unknown(table, set(MOODS), "buttons.")
    return _pins(table, "buttons", MOODS, {}, required=True)


def _leds(data, buttons):
    table = data.get("leds", {})
    if not isinstance(table, dict):
        raise _bad("leds", "a table: thanks = PIN, or one pin per mood", table)
    names = ("thanks", *MOODS)
    _no_unknown(table, set(names), "leds.")
    if "thanks" in table and len(table) > 1:
        raise ConfigError("leds.thanks: use either one thanks LED or one LED per mood, not both")
    used = {pin: f"buttons.{mood}" for mood, pin in buttons.items()}
    return _pins(table, "leds", names, used, required=False)


def _pins(table, section, names, used, required):
    pins = {}
    for name in names:
        key = f"{section}.{name}"
        if name not in table:
            if required:
                raise ConfigError(f"{key}: required (a BCM pin number 0-27)")
            continue
        pin = table[name]
        if type(pin) is not int or not 0 <= pin <= 27:
            raise _bad(key, "a BCM pin number 0-27", pin)
        if pin in used:
            raise ConfigError(f"{key}: pin {pin} is already used by {used[pin]}")
        used[pin] = key
        pins[name] = pin
    return pins


def _no_unknown(table, known, prefix):
    for key in table:
        if key not in known:
            # A quoted key may hold anything, a newline too: shown as TOML would quote it,
            # so the error stays one line.
            shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)
            raise ConfigError(f"{prefix}{shown}: unknown key (known: {', '.join(sorted(known))})")


def _required(data, key):
    if key not in data:
        raise ConfigError(f"{key}: required")
    return data[key]


def _string(data, key, default):
    value = data.get(key, default)
    if not isinstance(value, str) or not value:
        raise _bad(key, "a non-empty string", value)
    return value


def _number(data, key, default, minimum, strict=False):
    value = data.get(key, default)
    ok = type(value) in (int, float) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        what = f"a number {'greater than' if strict else 'at least'} {minimum}"
        raise _bad(key, what, value)
    return float(value)


def _integer(data, key, default, minimum, maximum):
    value = data.get(key, default)
    if type(value) is not int or not minimum <= value <= maximum:
        raise _bad(key, f"a whole number {minimum}-{maximum}", value)
    return value


def _bad(key, expected, value):
    return ConfigError(f"{key}: expected {expected}, got {_show(value)}")


def _show(value):
    """A value as it would look in TOML: strings in double quotes, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    if isinstance(value, dict):
        return "a table"
    return str(value)
