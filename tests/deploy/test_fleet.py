"""deploy/provision --fleet against three FakePis (tests/deploy/pi.py), each a real sshd on
127.0.0.1 reached through one ssh_config with a Host per Pi (named after its device):
provisioning, an upgrade whose canary does not come back healthy (the rest untouched), a
rollback that keeps the buffer."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import pi as fake_pi
from .conftest import CONFIG, DEPLOY, REPO, make_wheelhouse

PROVISION = DEPLOY / "provision"
DEVICES = ("lib-01", "lib-02", "lib-03")

pytestmark = pytest.mark.skipif(fake_pi.can_run() is not None,
                                reason=str(fake_pi.can_run()))


@pytest.fixture
def fleet(tmp_path):
    """{device: FakePi}, reachable as tech@DEVICE; the Pis are provisioned with kiosk 0.1.0."""
    pis = {}
    try:
        for n, device in enumerate(DEVICES, 1):
            pis[device] = fake_pi.FakePi(tmp_path / f"pi-{n}", REPO)
        config = tmp_path / "ssh_config"
        # Flash names each Pi after its device: reachable by that name.
        config.write_text("".join(pi.ssh_config(device) for device, pi in pis.items()))
        rows = ["host,device,config,token_file"]
        for device in DEVICES:
            (tmp_path / f"{device}.toml").write_text(
                CONFIG.replace("ams-security-03", device))
            (tmp_path / f"{device}.token").write_text(f"tok-{device}\n")
            rows.append(f"tech@{device},{device},{device}.toml,{device}.token")
        inventory = tmp_path / "new-pis.csv"
        inventory.write_text("\n".join(rows) + "\n")
        first = run_fleet(tmp_path, config, inventory, make_wheelhouse(tmp_path / "wh-0.1.0"))
        assert first.returncode == 0, first.stdout + first.stderr
        assert table(first) == [[f"tech@{device}", device, "- -> 0.1.0", "ok: installed, synced"]
                                for device in DEVICES]
        yield pis, config
    finally:
        for pi in pis.values():
            pi.stop()


def run_fleet(tmp_path, ssh_config, inventory, wheelhouse=None, *extra):
    args = [str(PROVISION), "--fleet", str(inventory), "--yes", "--parallel", "2",
            "--host-template", "tech@{device}", *extra]
    if wheelhouse:
        args += ["--wheelhouse", str(wheelhouse)]
    env = {**os.environ, "DEPLOY_SSH": f"ssh -F {ssh_config}", "DEPLOY_HEALTH_INTERVAL": "0.1"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def table(result):
    """The closing table's rows (header left out), split into its four columns."""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["host", "device", "version", "result"], result.stdout
    rows = []
    for line in lines[1:]:
        host, device, before, arrow, after, result = line.split(None, 5)
        rows.append([host, device, f"{before} {arrow} {after}", result.strip()])
    return rows


def hub_inventory(tmp_path):
    """The inventory as the hub gives it: `hub device list --format csv` (no host column:
    the hosts come from --host-template)."""
    hub = [str(Path(sys.executable).with_name("hub")), "--db", str(tmp_path / "hub.db")]
    commands = [["init-db"], ["location", "add", "library", "--name", "Library",
                              "--timezone", "Europe/Amsterdam"]]
    commands += [["device", "add", device, "--location", "library"] for device in DEVICES]
    for command in commands:
        subprocess.run([*hub, *command], check=True, capture_output=True, timeout=60)
    listed = subprocess.run([*hub, "device", "list", "--format", "csv"], check=True,
                            capture_output=True, text=True, timeout=60).stdout
    path = tmp_path / "fleet.csv"
    path.write_text(listed)
    return path


def installed_version(pi):
    listing = pi.as_root("ls", "/opt/kiosk/lib/python3/site-packages").stdout
    return listing.strip().removeprefix("kiosk_hub-").removesuffix(".dist-info")


def test_a_canary_that_does_not_come_back_healthy_stops_the_rest(fleet, tmp_path):
    pis, ssh_config = fleet
    broken = make_wheelhouse(tmp_path / "wh-0.2.0", version="0.2.0")
    (broken / "kiosk_hub-0.2.0-py3-none-any.whl").write_bytes(b"BROKEN: answers 500")
    for pi in pis.values():
        pi.as_root("truncate", "-s", "0", "/var/log/stub.log")

    result = run_fleet(tmp_path, ssh_config, hub_inventory(tmp_path), broken,
                       "--canary", "1", "--health-timeout", "1")
    assert result.returncode == 1
    assert table(result) == [
        ["tech@lib-01", "lib-01", "0.1.0 -> 0.2.0",
         "FAILED: not healthy after 1s: sync error: hub answered 500"],
        ["tech@lib-02", "lib-02", "? -> ?", "not attempted: a canary failed"],
        ["tech@lib-03", "lib-03", "? -> ?", "not attempted: a canary failed"],
    ]
    assert "a canary failed: the other 2 Pis are left as they are" in result.stderr
    assert [installed_version(pi) for pi in pis.values()] == ["0.2.0", "0.1.0", "0.1.0"]
    assert pis["lib-02"].read("/var/log/stub.log") == ""  # not even a restart
    log = (tmp_path / "fleet.csv.logs" / "tech@lib-01.log").read_text()
    assert "kiosk: changed, kiosk.service restarted" in log


def test_an_upgrade_then_a_rollback_restores_the_previous_version_and_keeps_the_buffer(
        fleet, tmp_path):
    pis, ssh_config = fleet
    for device, pi in pis.items():
        pi.as_root("install", "-d", "-o", "kiosk", "-g", "kiosk", "/var/lib/kiosk")
        pi.as_root("sh", "-c", f"echo 'presses of {device}, 3 not yet sent' >"
                   " /var/lib/kiosk/buffer.db")
    inventory = hub_inventory(tmp_path)
    upgrade = run_fleet(tmp_path, ssh_config, inventory,
                        make_wheelhouse(tmp_path / "wh-0.2.0", version="0.2.0"))
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    assert [row[2:] for row in table(upgrade)] == [["0.1.0 -> 0.2.0", "ok: upgraded, synced"]] * 3

    back = run_fleet(tmp_path, ssh_config, inventory, None, "--rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert table(back) == [[f"tech@{device}", device, "0.2.0 -> 0.1.0", "ok: rolled back, synced"]
                           for device in DEVICES]
    for device, pi in pis.items():
        assert installed_version(pi) == "0.1.0"
        assert pi.read("/var/lib/kiosk/buffer.db") == f"presses of {device}, 3 not yet sent\n"
        assert pi.read("/etc/kiosk/token") == f"tok-{device}"


def test_the_wrong_pi_is_left_alone(fleet, tmp_path):
    pis, ssh_config = fleet
    inventory = tmp_path / "mixed-up.csv"
    inventory.write_text("host,device\ntech@lib-01,lib-02\n")
    result = run_fleet(tmp_path, ssh_config, inventory,
                       make_wheelhouse(tmp_path / "wh-0.2.0", version="0.2.0"))
    assert result.returncode == 1
    assert table(result) == [["tech@lib-01", "lib-02", "0.1.0 -> 0.1.0",
                              "FAILED: this Pi is lib-01, not lib-02: nothing done"]]
    assert installed_version(pis["lib-01"]) == "0.1.0"

