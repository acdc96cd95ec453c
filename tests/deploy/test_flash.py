"""deploy/flash onto a plain file target: synthetic Bookworm and Trixie images (.img and
.img.xz), checked with mtools afterwards; usage errors. No network, no block device."""

import os
import subprocess

import pytest

from . import images
from .conftest import DEPLOY, REPO, make_wheelhouse

FLASH = DEPLOY / "flash"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx1Zq7v0kTechnicianKeyForTests tech@laptop\n"


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="module")
def bookworm(image_dir):
    return images.build_image(image_dir / "bookworm", "bookworm")


@pytest.fixture(scope="module")
def trixie(image_dir):
    return images.build_image(image_dir / "trixie", "trixie")


@pytest.fixture(scope="module")
def bookworm_xz(bookworm):
    return images.xz(bookworm)


@pytest.fixture
def inputs(tmp_path, config_file, token_file):
    key = tmp_path / "id_ed25519.pub"
    key.write_text(SSH_KEY)
    wheelhouse = make_wheelhouse(tmp_path / "wheelhouse")
    (wheelhouse / "pip-24.0-py3-none-any.whl").write_bytes(b"not a real wheel: pip")
    return {"config": config_file, "token": token_file, "key": key, "wheelhouse": wheelhouse}


def flash(image, target, inputs, *extra, env=None):
    args = [str(FLASH), str(image), str(target), "--config", str(inputs["config"]),
            "--token-file", str(inputs["token"]), "--ssh-key", str(inputs["key"]),
            "--wheelhouse", str(inputs["wheelhouse"]), "--timezone", "Europe/Amsterdam",
            "--yes", *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env=env or os.environ.copy(), stdin=subprocess.DEVNULL)



def assert_kiosk_bundle(card, inputs):
    assert images.fat_read(card, "kiosk/kiosk.toml") == inputs["config"].read_bytes()
    assert images.fat_read(card, "kiosk/token").strip() == inputs["token"].read_bytes().strip()
    wheels = images.fat_list(card, "kiosk/wheelhouse")
    assert wheels == sorted(p.name for p in inputs["wheelhouse"].glob("*.whl"))
    assert images.fat_read(card, "kiosk/install-kiosk.sh") == (
        DEPLOY / "lib/install-kiosk.sh").read_bytes()
    assert images.fat_read(card, "kiosk/kiosk.service") == (
        REPO / "systemd/kiosk.service").read_bytes()


def test_bookworm_card_gets_firstrun_via_cmdline(bookworm, tmp_path, inputs):
    card = tmp_path / "card.img"
    result = flash(bookworm, card, inputs, "--hostname", "ams-sec-03")
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stderr
    assert card.stat().st_size == bookworm.stat().st_size
    assert images.fat_read(card, "config.txt").decode() == images.CONFIG_TXT
    assert images.fat_read(card, "kernel8.img") == images.fat_read(bookworm, "kernel8.img")
    assert_kiosk_bundle(card, inputs)
    cmdline = images.fat_read(card, "cmdline.txt").decode()
    assert cmdline.count("\n") == 1
    assert cmdline.startswith(images.CMDLINE.strip() + " ")
    assert cmdline.rstrip().endswith(
        "systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot"
        " systemd.unit=kernel-command-line.target")
    assert images.fat_read(card, "firstrun.sh") == (DEPLOY / "lib/firstrun.sh").read_bytes()
    setup = images.fat_read(card, "kiosk/setup.env").decode()
    assert "ams-sec-03" in setup and "Europe/Amsterdam" in setup and "AAAAC3Nza" in setup
    assert not images.fat_exists(card, "user-data")
    assert images.root_bytes(card) == images.root_bytes(bookworm)


def test_trixie_card_gets_cloud_init(trixie, tmp_path, inputs):
    card = tmp_path / "card.img"
    result = flash(trixie, card, inputs)
    assert result.returncode == 0, result.stderr
    assert images.fat_read(card, "cmdline.txt").decode() == images.CMDLINE
    assert images.fat_read(card, "kernel8.img") == images.fat_read(trixie, "kernel8.img")
    assert_kiosk_bundle(card, inputs)
    user_data = images.fat_read(card, "user-data").decode()
    assert user_data.startswith("#cloud-config\n")
    assert "/boot/firmware/kiosk/install-kiosk.sh --source /boot/firmware/kiosk" in user_data
    assert SSH_KEY.strip() in user_data
    assert "ssh_pwauth: false" in user_data
    # The hostname defaults to the config's device_id.
    assert 'hostname: "ams-security-03"' in user_data
    assert "instance-id:" in images.fat_read(card, "meta-data").decode()
    assert "version: 2" in images.fat_read(card, "network-config").decode()
    assert not images.fat_exists(card, "firstrun.sh")
    assert images.root_bytes(card) == images.root_bytes(trixie)


def test_wifi_goes_into_network_config(trixie, tmp_path, inputs):
    psk = tmp_path / "psk"
    psk.write_text('pass "phrase" 1\n')
    card = tmp_path / "card.img"
    result = flash(trixie, card, inputs, "--wifi-ssid", "Airport Staff", "--wifi-psk-file",
                   str(psk), "--wifi-country", "NL")
    assert result.returncode == 0, result.stderr
    network = images.fat_read(card, "network-config").decode()
    assert '"Airport Staff":' in network
    assert 'password: "pass \\"phrase\\" 1"' in network
    assert 'regulatory-domain: "NL"' in network


def test_xz_image_is_streamed_to_the_same_card(bookworm, bookworm_xz, tmp_path, inputs):
    card = tmp_path / "card.img"
    result = flash(bookworm_xz, card, inputs)
    assert result.returncode == 0, result.stderr
    assert card.stat().st_size == bookworm.stat().st_size
    assert images.root_bytes(card) == images.root_bytes(bookworm)
    assert_kiosk_bundle(card, inputs)
    # Streamed: nothing unpacked next to the image.
    assert sorted(p.name for p in bookworm_xz.parent.glob("*.img")) == [bookworm.name]


def test_flashing_twice_hooks_cmdline_once(bookworm, tmp_path, inputs):
    card = tmp_path / "card.img"
    assert flash(bookworm, card, inputs).returncode == 0
    first = images.fat_read(card, "cmdline.txt")
    result = flash(bookworm, card, inputs)
    assert result.returncode == 0, result.stderr
    assert images.fat_read(card, "cmdline.txt") == first
    assert first.decode().count("systemd.run=") == 1


def test_help_shows_examples():
    result = subprocess.run([str(FLASH), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "Usage:" in result.stdout and "Examples:" in result.stdout
    assert "--batch" in result.stdout


@pytest.mark.parametrize("args", [
    [],
    ["--bogus"],
    ["only-one.img"],
    ["missing.img", "card.img", "--config", "k.toml", "--token-file", "t"],
    ["--config"],
])
def test_bad_arguments_are_one_line_and_fail(tmp_path, args):
    result = subprocess.run([str(FLASH), *args], capture_output=True, text=True, timeout=30,
                            cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""


def test_missing_token_is_refused_before_writing(bookworm, tmp_path, inputs):
    card = tmp_path / "card.img"
    inputs["token"] = tmp_path / "no-such-token"
    result = flash(bookworm, card, inputs)
    assert result.returncode != 0
    assert not card.exists()
