"""deploy/flash --batch: registers each CSV row with the hub (DEPLOY_HUB_CMD seam, a stub
`hub` printing a token), flashes one file per card ({hostname} in TARGET), keeps progress next
to the CSV so that a re-run skips what is done."""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from . import images
from .conftest import make_wheelhouse
from .test_flash import FLASH, SSH_KEY


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return images.build_image(tmp_path_factory.mktemp("img") / "t", "trixie")


def fake_hub(tmp_path):
    """`hub device add ID --location SLUG` prints tok-ID; the id "unknown-place" fails."""
    hub = tmp_path / "fake-hub"
    hub.write_text('#!/bin/sh\necho "hub $*" >>"$HUB_LOG"\n'
                   '[ "$3" = unknown-place ] && { echo "no such location" >&2; exit 1; }\n'
                   'echo "tok-$3"\n')
    hub.chmod(0o755)
    return hub


def run_batch(image, tmp_path, csv):
    key = tmp_path / "key.pub"
    key.write_text(SSH_KEY)
    template = tmp_path / "template.toml"
    template.write_text('device_id = "template"\nhub_url = "https://hub.example.org"\n'
                        'token_file = "/etc/kiosk/token"\n[buttons]\nhappy = 13\n')
    wheelhouse = make_wheelhouse(tmp_path / "wheelhouse")
    env = {**os.environ, "DEPLOY_HUB_CMD": str(fake_hub(tmp_path)),
           "HUB_LOG": str(tmp_path / "hub.log")}
    return subprocess.run(
        [str(FLASH), "--batch", str(csv), "--hub-ssh", "admin@hub", str(image),
         str(tmp_path / "card-{hostname}.img"), "--config-template", str(template),
         "--ssh-key", str(key), "--wheelhouse", str(wheelhouse), "--yes"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_batch_registers_flashes_and_resumes(image, tmp_path):
    csv = tmp_path / "fleet.csv"
    csv.write_text("device_id,location,hostname\n"
                   "ams-security-01,ams-security,\n"
                   "ams-gate-d-01,ams-gate-d,gate-d-kiosk-1\n"
                   "unknown-place,nowhere,\n")
    first = run_batch(image, tmp_path, csv)
    assert first.returncode != 0          # one row failed
    assert (tmp_path / "hub.log").read_text().splitlines() == [
        "hub device add ams-security-01 --location ams-security",
        "hub device add ams-gate-d-01 --location ams-gate-d",
        "hub device add unknown-place --location nowhere",
    ]
    one = tmp_path / "card-ams-security-01.img"
    two = tmp_path / "card-gate-d-kiosk-1.img"
    assert images.fat_read(one, "kiosk/token").strip() == b"tok-ams-security-01"
    assert b'device_id = "ams-gate-d-01"' in images.fat_read(two, "kiosk/kiosk.toml")
    assert b'hub_url = "https://hub.example.org"' in images.fat_read(two, "kiosk/kiosk.toml")
    assert b'hostname: "gate-d-kiosk-1"' in images.fat_read(two, "user-data")
    summary = first.stderr[first.stderr.index("Summary"):]
    assert "ams-security-01" in summary and "flashed" in summary
    assert "unknown-place\tregistration with the hub failed" in summary
    state = (tmp_path / "fleet.csv.state").read_text().splitlines()
    assert "flashed ams-security-01" in state and "flashed ams-gate-d-01" in state
    tokens = tmp_path / "fleet.csv.tokens"
    assert tokens.stat().st_mode & 0o777 == 0o700
    assert (tokens / "ams-security-01").stat().st_mode & 0o777 == 0o600

    # The bad row is fixed; a re-run registers and flashes only that one.
    csv.write_text(csv.read_text().replace("unknown-place,nowhere", "ams-lounge-01,ams-lounge"))
    (tmp_path / "hub.log").write_text("")
    second = run_batch(image, tmp_path, csv)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "hub.log").read_text().splitlines() == [
        "hub device add ams-lounge-01 --location ams-lounge"]
    assert "ams-security-01\tdone before, skipped" in second.stderr
    assert (tmp_path / "card-ams-lounge-01.img").exists()


@pytest.fixture
def card_reader(tmp_path):
    """A real block device (a loop device over a 128 MiB file) that the lsblk seam describes
    as an SD card in a USB reader; (device path, backing file). Needs root."""
    backing = tmp_path / "sd-card.bin"
    with backing.open("wb") as f:
        f.truncate(128 * 1024 * 1024)
    attach = subprocess.run(["losetup", "--find", "--show", str(backing)],
                            capture_output=True, text=True)
    if attach.returncode != 0:
        pytest.skip(f"no loop device here (needs root): {attach.stderr.strip()}")
    device = attach.stdout.strip()
    lsblk = tmp_path / "lsblk"
    lsblk.write_text(
        "#!/bin/sh\ncat <<EOF\n" + json.dumps({"blockdevices": [{
            "name": Path(device).name, "path": device, "size": 128 * 1024 * 1024, "rm": True,
            "tran": "usb", "model": "Test SD reader", "mountpoints": [None],
            "type": "disk"}]}) + "\nEOF\n")
    lsblk.chmod(0o755)
    try:
        yield device, backing, lsblk
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)


def test_batch_on_a_card_reader_asks_for_each_card(image, tmp_path, card_reader):
    """A block device as TARGET: before each card the technician is asked to insert it;
    Enter flashes it, s skips that device, q ends the batch; the summary says which."""
    device, backing, lsblk = card_reader
    csv = tmp_path / "fleet.csv"
    csv.write_text("lib-01,library,\nlib-02,library,\nlib-03,library,\n")
    key = tmp_path / "key.pub"
    key.write_text(SSH_KEY)
    template = tmp_path / "template.toml"
    template.write_text('device_id = "template"\nhub_url = "https://hub.example.org"\n'
                        'token_file = "/etc/kiosk/token"\n[buttons]\nhappy = 13\n')
    env = {**os.environ, "DEPLOY_HUB_CMD": str(fake_hub(tmp_path)),
           "HUB_LOG": str(tmp_path / "hub.log"), "DEPLOY_LSBLK": str(lsblk)}
    result = subprocess.run(
        [str(FLASH), "--batch", str(csv), "--hub-ssh", "admin@hub", str(image), device,
         "--config-template", str(template), "--ssh-key", str(key),
         "--wheelhouse", str(make_wheelhouse(tmp_path / "wheelhouse")), "--yes"],
        env=env, input="\ns\nq\n", capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for n in (1, 2, 3):
        assert f"Insert the card for lib-0{n} (lib-0{n}) into {device}, then press Enter" \
            in result.stderr
    summary = result.stderr[result.stderr.index("Summary"):]
    assert "lib-01\tflashed (hostname lib-01)" in summary
    assert "lib-02\tskipped by you" in summary
    assert "lib-03\tnot flashed (quit)" in summary
    subprocess.run(["sync"], check=True)
    assert b'device_id = "lib-01"' in images.fat_read(backing, "kiosk/kiosk.toml")
    assert images.fat_read(backing, "kiosk/token").strip() == b"tok-lib-01"
    state = (tmp_path / "fleet.csv.state").read_text().splitlines()
    assert "flashed lib-01" in state and "flashed lib-02" not in state


@pytest.fixture
def world_readable_dir():
    """A directory that another user can run programs from (tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="kiosk-batch-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("sudo"), reason="needs root and sudo")
def test_batch_under_sudo_runs_ssh_as_the_technician(image, tmp_path, world_readable_dir):
    """`sudo deploy/flash --batch`: ssh to the hub runs as $SUDO_USER with their agent (their
    keys and known_hosts, not root's), and what the batch leaves for the technician (progress,
    tokens, card images) is theirs. `nobody` stands in for the technician."""
    ssh = world_readable_dir / "ssh"
    ssh.write_text('#!/bin/sh\necho "ssh ran as $(id -un), agent ${SSH_AUTH_SOCK:-none}: $*" >&2\n'
                   'while [ $# -gt 0 ]; do [ "$1" = add ] && { echo "tok-$2"; exit 0; }; shift;'
                   ' done\nexit 1\n')
    ssh.chmod(0o755)
    csv = tmp_path / "fleet.csv"
    csv.write_text("lib-01,library,\n")
    key = tmp_path / "key.pub"
    key.write_text(SSH_KEY)
    template = tmp_path / "template.toml"
    template.write_text('device_id = "template"\nhub_url = "https://hub.example.org"\n')
    env = {**os.environ, "PATH": f"{world_readable_dir}:{os.environ['PATH']}",
           "SUDO_USER": "nobody", "SSH_AUTH_SOCK": "/tmp/technician-agent.sock"}
    env.pop("DEPLOY_HUB_CMD", None)
    result = subprocess.run(
        [str(FLASH), "--batch", str(csv), "--hub-ssh", "admin@hub", str(image),
         str(tmp_path / "card-{hostname}.img"), "--config-template", str(template),
         "--ssh-key", str(key), "--wheelhouse", str(make_wheelhouse(tmp_path / "wh")), "--yes"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert ("ssh ran as nobody, agent /tmp/technician-agent.sock: -- admin@hub sudo -u kiosk-hub"
            " /opt/kiosk-hub/bin/hub --db /var/lib/kiosk-hub/hub.db device add lib-01"
            " --location library") in result.stderr
    tokens = tmp_path / "fleet.csv.tokens"
    assert (tokens / "lib-01").read_text() == "tok-lib-01\n"
    card = tmp_path / "card-lib-01.img"
    for path in (tmp_path / "fleet.csv.state", tokens, tokens / "lib-01", card):
        assert path.owner() == "nobody", path
    assert card.stat().st_mode & 0o777 == 0o600
