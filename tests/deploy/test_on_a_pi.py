"""deploy/provision over a real sshd on 127.0.0.1 into a FakePi (tests/deploy/pi.py: a mount
namespace with real users, sudo and file modes), then the guide's diagnostics as the
technicians type them over ssh."""

import json
import os
import subprocess
import sys
import tomllib

import pytest

from ..tls import PrivateCA
from . import pi as fake_pi
from .conftest import DEPLOY, REPO, make_wheelhouse

PROVISION = DEPLOY / "provision"

pytestmark = pytest.mark.skipif(fake_pi.can_run() is not None,
                                reason=str(fake_pi.can_run()))


def start_pi(tmp_path, name="pi", kiosk="stub"):
    return fake_pi.FakePi(tmp_path / name, REPO, kiosk=kiosk)


@pytest.fixture
def real_pi(tmp_path):
    pi = start_pi(tmp_path, kiosk="real")
    yield pi
    pi.stop()


@pytest.fixture
def stub_pi(tmp_path):
    pi = start_pi(tmp_path)
    yield pi
    pi.stop()


def provision(pi, config_file, token_file, wheelhouse, *extra, host=None, env=None):
    return subprocess.run(
        [str(PROVISION), host or pi.address(), "--config", str(config_file), "--token-file",
         str(token_file), "--wheelhouse", str(wheelhouse), "--yes", *extra],
        env={**os.environ, "DEPLOY_SSH": " ".join(pi.ssh), **(env or {})},
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


def test_a_technician_in_kiosk_admin_runs_status_and_selftest_over_ssh(
        real_pi, config_file, token_file, tmp_path):
    """The guide's `kiosk status` and `kiosk selftest`, typed as written by a technician who
    is in group kiosk-admin and has no sudo: they read the kiosk user's files, which the
    technician still cannot read."""
    result = provision(real_pi, config_file, token_file, make_wheelhouse(tmp_path / "wh"))
    assert result.returncode == 0, result.stdout + result.stderr
    # What kiosk.service's StateDirectory= and the daemon's first start would leave.
    real_pi.as_root("install", "-d", "-o", "kiosk", "-g", "kiosk", "-m", "0750",
                    "/var/lib/kiosk")
    made = real_pi.as_root(
        "runuser", "-u", "kiosk", "--", "env", f"PYTHONPATH={REPO}", sys.executable, "-c",
        "from kiosk.store import PressBuffer; "
        "PressBuffer('/var/lib/kiosk', device_id='ams-security-03').close()")
    assert made.returncode == 0, made.stderr

    # The provisioning login joined kiosk-admin; tech adds a colleague, as the guide says.
    assert "kiosk-admin" in real_pi.run("id -nG").stdout.split()
    assert real_pi.run("sudo usermod -aG kiosk-admin fieldtech").returncode == 0

    status = real_pi.run("kiosk status --json", user="fieldtech")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["device_id"] == "ams-security-03" and state["queued"] == 0

    plain = real_pi.run("kiosk status", user="fieldtech")
    assert plain.returncode == 0 and "ams-security-03" in plain.stdout, plain.stderr

    selftest = real_pi.run("kiosk selftest", user="fieldtech")
    lines = selftest.stdout.splitlines()
    assert lines[0].split() == ["config", "OK", "/etc/kiosk/kiosk.toml"], selftest.stdout
    assert any(line.startswith("storage  OK") for line in lines), selftest.stdout

    # The secrets themselves stay the kiosk user's.
    denied = real_pi.run("cat /etc/kiosk/token", user="fieldtech")
    assert denied.returncode != 0 and "Permission denied" in denied.stderr

    # Outside the group: one line that says what to do, no sudo password prompt.
    visitor = real_pi.run("kiosk status", user="visitor")
    assert visitor.returncode == 1
    assert visitor.stderr.splitlines() == [
        "kiosk: visitor may not read the kiosk's files: add it to group kiosk-admin "
        "(sudo usermod -aG kiosk-admin visitor), log in again, or use sudo kiosk status"]


def test_provisioning_over_ssh_ends_with_a_clean_selftest_and_is_idempotent(
        stub_pi, config_file, token_file, tmp_path):
    wheelhouse = make_wheelhouse(tmp_path / "wh")
    first = provision(stub_pi, config_file, token_file, wheelhouse)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "kiosk selftest: ok" in first.stdout
    assert first.stderr.strip().splitlines()[-1] == "tech@127.0.0.1: changed, selftest ok"
    assert stub_pi.read("/etc/kiosk/token") == token_file.read_text().strip()
    modes = stub_pi.as_root("stat", "-c", "%n %a %U:%G", "/etc/kiosk", "/etc/kiosk/token",
                            "/etc/kiosk/kiosk.toml", "/usr/local/bin/kiosk",
                            "/etc/sudoers.d/kiosk-admin").stdout.splitlines()
    assert modes == ["/etc/kiosk 750 root:kiosk", "/etc/kiosk/token 600 kiosk:kiosk",
                     "/etc/kiosk/kiosk.toml 600 kiosk:kiosk", "/usr/local/bin/kiosk 755 root:root",
                     "/etc/sudoers.d/kiosk-admin 440 root:root"]

    second = provision(stub_pi, config_file, token_file, wheelhouse)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "kiosk: unchanged" in second.stdout
    assert second.stderr.strip().splitlines()[-1] == (
        "tech@127.0.0.1: unchanged, selftest ok")


def test_provision_delivers_time_servers_and_a_private_ca(real_pi, config_file, token_file,
                                                          tmp_path):
    """--ntp and --ca-file land on the Pi: the timesyncd drop-in (timesyncd restarted), the CA
    readable by the kiosk user, kiosk.toml naming it; the real kiosk loads that config."""
    ca = PrivateCA.create(tmp_path / "ca")
    result = provision(real_pi, config_file, token_file, make_wheelhouse(tmp_path / "wh"),
                       "--ntp", "ntp1.airport.example", "--ntp", "10.20.0.1",
                       "--ca-file", str(ca.cert))
    assert result.returncode == 0, result.stdout + result.stderr
    dropin = real_pi.read("/etc/systemd/timesyncd.conf.d/kiosk.conf")
    assert "[Time]\nNTP=ntp1.airport.example 10.20.0.1\n" in dropin
    assert "systemctl try-restart systemd-timesyncd.service" in real_pi.read("/var/log/stub.log")
    assert real_pi.read("/etc/kiosk/ca.pem") == ca.cert.read_text()
    config = tomllib.loads(real_pi.read("/etc/kiosk/kiosk.toml"))
    assert config["ca_file"] == "/etc/kiosk/ca.pem" and config["device_id"] == "ams-security-03"
    readable = real_pi.as_root("runuser", "-u", "kiosk", "--", "cat", "/etc/kiosk/ca.pem")
    assert readable.returncode == 0, readable.stderr
    real_pi.as_root("install", "-d", "-o", "kiosk", "-g", "kiosk", "-m", "0750",
                    "/var/lib/kiosk")
    selftest = real_pi.run("kiosk selftest")
    assert selftest.stdout.splitlines()[0].split() == ["config", "OK", "/etc/kiosk/kiosk.toml"]

    again = provision(real_pi, config_file, token_file, make_wheelhouse(tmp_path / "wh"),
                      "--ntp", "ntp1.airport.example", "--ntp", "10.20.0.1",
                      "--ca-file", str(ca.cert))
    assert "kiosk: unchanged" in again.stdout, again.stdout + again.stderr


def test_a_pi_without_python3_lgpio_is_refused_in_one_clear_line(stub_pi, config_file,
                                                                  token_file, tmp_path):
    stub_pi.as_root("touch", "/etc/stub-no-lgpio")
    result = provision(stub_pi, config_file, token_file, make_wheelhouse(tmp_path / "wh"))
    assert result.returncode == 1
    assert ("install-kiosk: python3-lgpio is missing (install it: sudo apt install"
            " python3-lgpio); nothing installed") in result.stdout
    assert result.stderr.splitlines()[-1].startswith(
        "provision: error: the install on tech@127.0.0.1 failed")
    assert stub_pi.as_root("test", "-e", "/opt/kiosk").returncode != 0
    assert stub_pi.as_root("id", "kiosk").returncode != 0  # no user, no unit: nothing
