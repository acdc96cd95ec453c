"""deploy/provision through the DEPLOY_SSH seam: a runner that executes the "remote" command
locally, against a throwaway root with stub system commands (tests/deploy/conftest.py)."""

import subprocess

from .conftest import DEPLOY, make_wheelhouse

PROVISION = DEPLOY / "provision"


def runner(fake_system):
    """DEPLOY_SSH: `runner HOST COMMAND` runs COMMAND with bash here, stdin passed through."""
    path = fake_system.bin.parent / "fake-ssh"
    path.write_text('#!/usr/bin/env bash\necho "ssh $1" >>"$STUB_LOG"\nshift\nexec bash -c "$*"\n')
    path.chmod(0o755)
    return path


def provision(fake_system, config_file, token_file, wheelhouse, *extra):
    env = {**fake_system.env, "DEPLOY_SSH": str(runner(fake_system))}
    return subprocess.run(
        [str(PROVISION), "tech@kiosk-03.local", "--config", str(config_file), "--token-file",
         str(token_file), "--wheelhouse", str(wheelhouse), "--yes", *extra],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_provision_installs_then_is_unchanged(fake_system, config_file, token_file, tmp_path):
    wheelhouse = make_wheelhouse(tmp_path / "wheelhouse")
    first = provision(fake_system, config_file, token_file, wheelhouse)
    assert first.returncode == 0, first.stdout + first.stderr
    root = fake_system.root
    assert (root / "etc/kiosk/token").read_text() == token_file.read_text().strip()
    assert (root / "etc/kiosk/token").stat().st_mode & 0o777 == 0o600
    assert (root / "etc/kiosk/kiosk.toml").read_text() == config_file.read_text()
    calls = fake_system.calls()
    assert calls[0] == "ssh tech@kiosk-03.local"
    assert "systemctl enable kiosk.service" in calls
    assert "systemctl restart kiosk.service" in calls
    assert "kiosk selftest: config ok" in first.stdout
    assert first.stderr.strip().endswith("tech@kiosk-03.local: changed, selftest ok")

    fake_system.clear_log()
    second = provision(fake_system, config_file, token_file, wheelhouse)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "kiosk: unchanged" in second.stdout
    assert second.stderr.strip().endswith("tech@kiosk-03.local: unchanged, selftest ok")
    calls = [c for c in fake_system.calls() if not c.startswith("systemctl is-active")]
    assert not any(c.startswith(("systemctl", "useradd", "groupadd", "python3", "venv-python",
                                 "chown")) for c in calls), calls
    # The selftest still runs, and nothing is left in the temporary directory's place.
    assert "venv-kiosk selftest --config " + str(root) + "/etc/kiosk/kiosk.toml" in calls


def test_upgrade_installs_the_new_version_and_restarts(fake_system, config_file, token_file,
                                                       tmp_path):
    old = make_wheelhouse(tmp_path / "old")
    assert provision(fake_system, config_file, token_file, old).returncode == 0
    buffer = fake_system.root / "var/lib/kiosk/buffer.db"
    buffer.parent.mkdir(parents=True)
    buffer.write_bytes(b"presses not yet sent")

    new = make_wheelhouse(tmp_path / "new", version="0.2.0")
    fake_system.clear_log()
    plain = provision(fake_system, config_file, token_file, new)
    assert "--upgrade" in plain.stdout and plain.stderr.strip().endswith("unchanged, selftest ok")
    assert not any(c.startswith("systemctl") and "is-active" not in c
                   for c in fake_system.calls())

    fake_system.clear_log()
    upgrade = provision(fake_system, config_file, token_file, new, "--upgrade")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    calls = fake_system.calls()
    pip = [c for c in calls if c.startswith("venv-python -m pip install")]
    assert pip and "--upgrade" in pip[0]
    assert "systemctl restart kiosk.service" in calls
    assert buffer.read_bytes() == b"presses not yet sent"


def test_changed_token_restarts(fake_system, config_file, token_file, tmp_path):
    wheelhouse = make_wheelhouse(tmp_path / "wheelhouse")
    provision(fake_system, config_file, token_file, wheelhouse)
    token_file.write_text("tok-rotated\n")
    fake_system.clear_log()
    result = provision(fake_system, config_file, token_file, wheelhouse)
    assert result.returncode == 0
    assert (fake_system.root / "etc/kiosk/token").read_text() == "tok-rotated"
    assert "systemctl restart kiosk.service" in fake_system.calls()


def test_failed_install_is_reported(fake_system, config_file, token_file, tmp_path):
    wheelhouse = make_wheelhouse(tmp_path / "wheelhouse")
    (fake_system.bin / "systemctl").write_text("#!/bin/sh\nexit 1\n")
    result = provision(fake_system, config_file, token_file, wheelhouse)
    assert result.returncode != 0
    assert "the install on tech@kiosk-03.local failed" in result.stderr


def test_help_and_bad_arguments():
    ok = subprocess.run([str(PROVISION), "--help"], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and "Examples:" in ok.stdout
    for args in ([], ["host"], ["host", "--bogus"], ["a", "b", "--config", "x"]):
        bad = subprocess.run([str(PROVISION), *args], capture_output=True, text=True, timeout=30)
        assert bad.returncode != 0
        assert bad.stderr.count("\n") == 1, bad.stderr
