"""Every `hub` and `kiosk` command with bad arguments: one line on stderr, a non-zero exit,
no traceback. Run as real processes (the installed console scripts), a few at a time."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.faults.figures import record

BIN = Path(sys.executable).parent
DAYS = ["--from", "2026-01-01", "--to", "2026-01-02"]

# (arguments after `hub --db DB`, the exit status, a word the line must hold)
HUB = [
    (["nosuch"], 2, "nosuch"),
    (["init-db", "extra"], 2, "extra"),
    (["location"], 2, "add, edit, list"),
    (["location", "add"], 2, "SLUG"),
    (["location", "add", "Bad_Slug", "--name", "x", "--timezone", "UTC"], 2, "SLUG"),
    (["location", "add", "new", "--name", "x", "--timezone", "Mars/Olympus"], 2, "Mars"),
    (["location", "add", "new", "--name", "x", "--timezone", "UTC", "--hours", "funday 9-5"],
     2, "hours"),
    (["location", "add", "new", "--timezone", "UTC"], 2, "--name"),
    (["location", "add", "ams", "--name", "x", "--timezone", "UTC"], 1, "ams"),
    (["location", "list", "--bogus"], 2, "--bogus"),
    (["device", "add", "kiosk-9", "--location", "nowhere"], 1, "nowhere"),
    (["device", "add", "bad id!", "--location", "ams"], 2, "DEVICE_ID"),
    (["device", "add", "kiosk-9"], 2, "--location"),
    (["device", "move", "nobody", "--location", "ams"], 1, "nobody"),
    (["device", "move", "kiosk-1", "--location", "nowhere"], 1, "nowhere"),
    (["device", "revoke", "nobody"], 1, "nobody"),
    (["device", "list", "extra"], 2, "extra"),
    (["user", "add"], 2, "USERNAME"),
    (["user", "add", "bad name!", "--password-stdin"], 2, "USERNAME"),
    (["user", "add", "bob", "--password-stdin"], 1, "password"),  # stdin: "short"
    (["user", "add", "ann", "--password-stdin", "--long-password"], 1, "ann"),  # exists
    (["api-token", "add", "nobody"], 1, "nobody"),
    (["serve", "--port", "notaport"], 2, "--port"),
    (["serve", "--port", "70000"], 2, "--port"),
    (["serve", "--workers", "0"], 2, "--workers"),
    (["export", "--location", "ams", "--from", "2026-13-01", "--to", "2026-01-02"], 2, "--from"),
    (["export", "--location", "nowhere", *DAYS], 1, "nowhere"),
    (["export", "--location", "ams", "--from", "2026-01-02", "--to", "2026-01-01"], 1, "to"),
    (["export", "--location", "ams", *DAYS, "--format", "xml"], 2, "--format"),
    (["export", *DAYS], 2, "--location"),
    (["rebuild-rollups", "--fast"], 2, "--fast"),
    (["backup"], 2, "DEST"),
    (["backup", "/proc/no/such/dir/x.db"], 1, "/proc/no/such"),
    (["backup", "{tmp}/backups", "--keep", "-1"], 2, "--keep"),
    (["action"], 2, "add, list"),
    (["action", "add", "ams", "--title", "x", "--at", "soon"], 2, "--at"),
    (["action", "add", "ams", "--at", "2026-01-01 08:00"], 2, "--title"),
    (["action", "add", "nowhere", "--title", "x", "--at", "2026-01-01 08:00"], 1, "nowhere"),
    (["action", "list", "nowhere"], 1, "nowhere"),
    (["alerts"], 2, "run"),
    (["alerts", "run", "extra"], 2, "extra"),
    (["alerts", "bogus"], 2, "bogus"),
    (["demo", "--dir", "{tmp}/not-a-demo"], 1, "not-a-demo"),
]
# Commands on a database that is missing, or not a database at all.
HUB_DB = [
    ("{tmp}/missing.db", ["location", "list"], 1, "missing.db"),
    ("{tmp}/garbage.db", ["init-db"], 1, "garbage.db"),
    ("{tmp}/garbage.db", ["device", "list"], 1, "garbage.db"),
    ("{tmp}/ro/hub.db", ["init-db"], 1, "hub.db"),
]
KIOSK = [
    (["run", "--config", "{tmp}/missing.toml"], 2, "missing.toml"),
    (["run", "--config", "{tmp}/bad-pin.toml", "--simulate", "0"], 2, "buttons.happy"),
    (["run", "--config", "{tmp}/not-toml.toml", "--simulate", "0"], 2, "not-toml.toml"),
    (["run", "--config", "{tmp}/no-device.toml", "--simulate", "0"], 2, "device_id"),
    (["status", "--config", "{tmp}/missing.toml"], 2, "missing.toml"),
    (["status", "--config", "{tmp}/bad-pin.toml", "--json"], 2, "buttons.happy"),
    (["status", "--config", "{tmp}/not-toml.toml"], 2, "not-toml.toml"),
]
# click's own usage errors in `kiosk` (kiosk/cli.py, owned by the kiosk work) are three lines:
# "Usage: ...", "Try 'kiosk run --help' for help.", "Error: ...". Kept apart, expected to fail
# until kiosk/cli.py turns them into one line as hub/cli.py does.
KIOSK_CLICK_USAGE = [
    (["nosuch"], 2, "nosuch"),
    (["run", "--config", "{tmp}/good.toml", "--simulate", "-1"], 2, "--simulate"),
    (["run", "--config", "{tmp}/good.toml", "--simulate", "abc"], 2, "--simulate"),
    (["status", "--bogus"], 2, "--bogus"),
]

GOOD_KIOSK = """device_id = "kiosk-1"
hub_url = "http://127.0.0.1:9"
token = "t"
data_dir = "{tmp}/data"
[buttons]
very_unhappy = 5
unhappy = 6
happy = {happy}
very_happy = 19
"""


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    env = _env(tmp)
    db = str(tmp / "hub.db")
    for args, stdin in ((["init-db"], None),
                        (["location", "add", "ams", "--name", "A", "--timezone", "UTC"], None),
                        (["device", "add", "kiosk-1", "--location", "ams"], None),
                        (["user", "add", "ann", "--password-stdin"], "long enough\n")):
        subprocess.run([str(BIN / "hub"), "--db", db, *args], input=stdin, text=True,
                       check=True, capture_output=True, env=env, timeout=60)
    (tmp / "garbage.db").write_bytes(b"this is not a database" * 100)
    (tmp / "not-a-demo").mkdir()
    (tmp / "not-a-demo" / "keep.txt").write_text("mine")
    (tmp / "ro").mkdir(mode=0o500)
    (tmp / "good.toml").write_text(GOOD_KIOSK.format(tmp=tmp, happy=13))
    (tmp / "bad-pin.toml").write_text(GOOD_KIOSK.format(tmp=tmp, happy='"x"'))
    (tmp / "not-toml.toml").write_text("device_id = = 'x'\n[[[")
    (tmp / "no-device.toml").write_text(GOOD_KIOSK.format(tmp=tmp, happy=13).split("\n", 1)[1])
    return tmp, db, env


def _env(tmp):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "KIOSK_"))}
    env["GPIOZERO_PIN_FACTORY"] = "mock"
    return env


def _run(command, env):
    stdin = "long enough\n" if "--long-password" in command else "short\n"
    command = [part for part in command if part != "--long-password"]
    return subprocess.run(command, input=stdin, text=True, capture_output=True, env=env,
                          timeout=60)


def _wrong(commands, results):
    wrong = []
    for (command, code, word), result in zip(commands, results, strict=True):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        shown = " ".join(command[1:])
        if result.returncode != code:
            wrong.append(f"{shown}: exit {result.returncode}, expected {code}: {result.stderr}")
        elif len(lines) != 1 or "Traceback" in result.stderr:
            wrong.append(f"{shown}: {len(lines)} lines on stderr:\n{result.stderr}")
        elif word and word not in lines[0]:
            wrong.append(f"{shown}: {lines[0]!r} does not name {word!r}")
    return wrong


def _commands(table, program, tmp):
    return [([part.format(tmp=tmp) for part in [str(BIN / program), *args]], code,
             word.format(tmp=tmp)) for args, code, word in table]


def test_every_command_with_bad_arguments_says_one_line(place):
    tmp, db, env = place
    if os.geteuid() == 0:  # root writes anywhere: the read-only directory proves nothing
        cases_db = [case for case in HUB_DB if "/ro/" not in case[0]]
    else:
        cases_db = HUB_DB
    commands = [([str(BIN / "hub"), "--db", db, *args], code, word) for args, code, word in HUB]
    commands += [([str(BIN / "hub"), "--db", path, *args], code, word)
                 for path, args, code, word in cases_db]
    commands += _commands(KIOSK, "kiosk", tmp)
    commands = [([part.format(tmp=tmp) for part in command], code, word.format(tmp=tmp))
                for command, code, word in commands]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda c: _run(c[0], env), commands))
    wrong = _wrong(commands, results)
    assert not wrong, "\n".join(wrong)
    selftest = _run([str(BIN / "kiosk"), "selftest", "--config", str(tmp / "not-toml.toml")],
                    env)
    assert selftest.returncode == 1 and "Traceback" not in selftest.stdout + selftest.stderr
    record("bad input", "hub and kiosk commands with bad arguments", inputs=len(commands) + 1)


def test_kiosk_usage_errors_are_one_line(place):
    tmp, _, env = place
    commands = _commands(KIOSK_CLICK_USAGE, "kiosk", tmp)
    results = [_run(command, env) for command, _, _ in commands]
    assert all("Traceback" not in r.stderr and r.returncode == 2 for r in results)
    wrong = _wrong(commands, results)
    assert not wrong, "\n".join(wrong)
