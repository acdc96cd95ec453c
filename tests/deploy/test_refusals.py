"""deploy/flash refuses dangerous targets before writing a byte. Block-device facts come from
recorded `lsblk --json -b -o NAME,PATH,SIZE,RM,TRAN,MODEL,MOUNTPOINTS,TYPE` output through the
DEPLOY_LSBLK seam; a stub dd on PATH proves nothing was written."""

import os
import subprocess
from pathlib import Path

import pytest

from . import images
from .conftest import write_stub
from .test_flash import FLASH, SSH_KEY

RECORDED = Path(__file__).parent / "lsblk"


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return images.build_image(tmp_path_factory.mktemp("img") / "b", "bookworm")


@pytest.fixture
def seams(tmp_path):
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    write_stub(stubs, "dd", "exit 1")
    lsblk = tmp_path / "lsblk-recorded"
    lsblk.write_text('#!/bin/sh\necho "lsblk $*" >>"$STUB_LOG"\ncat "$LSBLK_JSON"\n')
    lsblk.chmod(0o755)
    log = tmp_path / "stub.log"
    log.write_text("")
    return {"stubs": stubs, "lsblk": lsblk, "log": log}


def flash_to_device(image, tmp_path, seams, recording, device, *extra, stdin=""):
    key = tmp_path / "key.pub"
    key.write_text(SSH_KEY)
    config = tmp_path / "kiosk.toml"
    config.write_text('device_id = "ams-security-03"\nhub_url = "https://hub.example.org"\n')
    token = tmp_path / "token"
    token.write_text("tok\n")
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir(exist_ok=True)
    (wheelhouse / "kiosk_hub-0.1.0-py3-none-any.whl").write_bytes(b"x")
    (wheelhouse / "pip-24.0-py3-none-any.whl").write_bytes(b"x")
    env = {**os.environ, "PATH": f"{seams['stubs']}:{os.environ['PATH']}",
           "DEPLOY_LSBLK": str(seams["lsblk"]), "LSBLK_JSON": str(RECORDED / recording),
           "STUB_LOG": str(seams["log"])}
    return subprocess.run(
        [str(FLASH), str(image), device, "--config", str(config), "--token-file", str(token),
         "--ssh-key", str(key), "--wheelhouse", str(wheelhouse), *extra],
        env=env, input=stdin, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("recording", "device", "reason"), [
    ("sd-card-mounted.json", "/dev/sdb", "it is mounted at /media/tech/bootfs /media/tech/rootfs"),
    ("system-nvme.json", "/dev/nvme0n1", "it holds the running system"),
    ("internal-sata.json", "/dev/sdc", "not a removable disk"),
    ("small-card.json", "/dev/mmcblk0", "is smaller than the image"),
    ("partition.json", "/dev/sdb1", "not a whole disk"),
])
def test_refused_before_writing(image, tmp_path, seams, recording, device, reason):
    result = flash_to_device(image, tmp_path, seams, recording, device, "--yes")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"refusing {device}" in result.stderr and reason in result.stderr
    calls = seams["log"].read_text().splitlines()
    assert calls == [f"lsblk {device}"]        # asked lsblk, never ran dd


def test_confirmation_shows_model_and_size_and_no_writes_nothing(image, tmp_path, seams):
    result = flash_to_device(image, tmp_path, seams, "sd-card.json", "/dev/sdb", stdin="no\n")
    assert result.returncode != 0
    assert "SD/MMC Reader" in result.stderr
    assert "29.7 GiB" in result.stderr
    assert "nothing written" in result.stderr
    assert not any(c.startswith("dd") for c in seams["log"].read_text().splitlines())


def test_a_usb_reader_that_reports_rm_0_is_a_card_but_still_asks(image, tmp_path, seams):
    """Some USB card readers report RM=0: the USB transport makes it a card, and the
    confirmation (model and size) is what stands between a typo and the wrong disk."""
    result = flash_to_device(image, tmp_path, seams, "usb-reader-rm0.json", "/dev/sdb",
                             stdin="no\n")
    assert result.returncode != 0
    assert "USB3.0 CRW-SD" in result.stderr and "59.5 GiB" in result.stderr
    assert "nothing written" in result.stderr
    assert not any(c.startswith("dd") for c in seams["log"].read_text().splitlines())


def test_a_good_card_reaches_the_write(image, tmp_path, seams):
    """With "yes" the checks pass and the write starts: here the stub dd, which fails."""
    result = flash_to_device(image, tmp_path, seams, "sd-card.json", "/dev/sdb", stdin="yes\n")
    assert result.returncode != 0
    assert any(c.startswith("dd of=/dev/sdb") for c in seams["log"].read_text().splitlines())
    assert "writing to /dev/sdb failed" in result.stderr
    assert "verif" not in result.stderr
