"""Fixtures of the deploy tests: a throwaway root with stub system commands, a bundle of
the files install-kiosk.sh installs, and a fake wheelhouse (no network anywhere)."""

import os
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
INSTALL = DEPLOY / "lib" / "install-kiosk.sh"

CONFIG = """\
device_id = "ams-security-03"
hub_url = "https://hub.example.org"
token_file = "/etc/kiosk/token"
data_dir = "/var/lib/kiosk"
[buttons]
very_unhappy = 5
unhappy = 6
happy = 13
very_happy = 19
[leds]
thanks = 26
"""

# Each stub appends its name and arguments to $STUB_LOG, one line per call. useradd/groupadd
# also add the line to the root's passwd/group (like the real ones with --prefix), systemctl
# enable makes the wants/ symlink, python3 -m venv makes a venv whose python and kiosk log too.
STUBS = {
    "groupadd": 'echo "${!#}:x:999:" >>"$KIOSK_ROOT/etc/group"',
    "useradd": ('echo "${!#}:x:998:998::/var/lib/kiosk:/usr/sbin/nologin"'
                ' >>"$KIOSK_ROOT/etc/passwd"\n'
                'echo "${!#}:x:998:" >>"$KIOSK_ROOT/etc/group"\n'
                'sed -i "s/^gpio:\\(.*\\):$/gpio:\\1:${!#}/" "$KIOSK_ROOT/etc/group"'),
    "usermod": ('g=""; for a in "$@"; do [ "$p" = --groups ] && g=$a; p=$a; done\n'
                'for one in ${g//,/ }; do\n'
                '  sed -i -E "s/^($one:[^:]*:[^:]*:)(.+)$/\\1\\2,${!#}/;'
                ' s/^($one:[^:]*:[^:]*:)$/\\1${!#}/" "$KIOSK_ROOT/etc/group"\ndone'),
    "chown": "",
    "runuser": 'shift 3; "$@"',
    "sudo": 'while [ "${1#-}" != "$1" ]; do shift; done; "$@"',
    "systemctl": ('[ "${1#--root=}" != "$1" ] && shift\n'
                  'if [ "$1" = enable ]; then\n'
                  '  d="$KIOSK_ROOT/etc/systemd/system/multi-user.target.wants"\n'
                  '  mkdir -p "$d"; ln -sf /etc/systemd/system/"$2" "$d/$2"\nfi'),
    "python3": (
        'if [ "$1 $2" = "-c import lgpio" ]; then [ -z "$STUB_NO_LGPIO" ]; exit; fi\n'
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  v="${!#}"; mkdir -p "$v/bin"\n'
        '  for n in python kiosk; do\n'
        '    printf \'#!/bin/sh\\necho "venv-%s $*" >>"$STUB_LOG"\\n'
        '[ -z "$STUB_PIP_FAIL" ] || exit 1\\n\' "$n" >"$v/bin/$n"\n'
        '    chmod 755 "$v/bin/$n"\n'
        '  done\n'
        '  printf \'echo "kiosk selftest: config ok"\\n\' >>"$v/bin/kiosk"\n'
        'fi'),
}


def write_stub(directory, name, body):
    path = Path(directory) / name
    path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >>"$STUB_LOG"\n{body}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class FakeSystem:
    """A throwaway root plus stub commands; .env runs install-kiosk.sh against it."""

    def __init__(self, base):
        self.root = base / "root"
        (self.root / "etc").mkdir(parents=True)
        (self.root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
        (self.root / "etc/group").write_text("root:x:0:\n")
        (self.root / "opt").mkdir()
        self.bin = base / "stubs"
        self.bin.mkdir()
        for name, body in STUBS.items():
            write_stub(self.bin, name, body)
        self.log = base / "stub.log"
        self.log.write_text("")
        self.env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "KIOSK_ROOT": str(self.root),
            "STUB_LOG": str(self.log),
        }

    def calls(self, probes=False):
        """The stubs' calls; without the read-only `python3 -c "import lgpio"` unless probes."""
        calls = self.log.read_text().splitlines()
        return calls if probes else [c for c in calls if c != "python3 -c import lgpio"]

    def clear_log(self):
        self.log.write_text("")


@pytest.fixture
def fake_system(tmp_path):
    return FakeSystem(tmp_path)


def make_wheelhouse(directory, version="0.1.0"):
    directory.mkdir(parents=True, exist_ok=True)
    for name in (f"kiosk_hub-{version}-py3-none-any.whl", "gpiozero-2.0.1-py3-none-any.whl"):
        (directory / name).write_bytes(f"not a real wheel: {name}".encode())
    return directory


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text("tok-3f9a2c\n")
    return path


@pytest.fixture
def bundle(tmp_path, config_file, token_file):
    """The --source directory of install-kiosk.sh, as flash and provision lay it out."""
    source = tmp_path / "bundle"
    source.mkdir()
    (source / "kiosk.toml").write_text(config_file.read_text())
    (source / "token").write_text(token_file.read_text())
    (source / "kiosk.service").write_text((REPO / "systemd/kiosk.service").read_text())
    (source / "kiosk-wrapper.sh").write_text((DEPLOY / "lib/kiosk-wrapper.sh").read_text())
    make_wheelhouse(source / "wheelhouse")
    return source
