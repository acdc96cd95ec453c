"""deploy/flash onto a plain file target: synthetic Bookworm and Trixie images (.img and
.img.xz), checked with mtools afterwards; usage errors. No network, no block device."""

import json
import os
import shutil
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


def yaml_load(text):
    """cloud-init's YAML parsed by the system's PyYAML (what cloud-init itself uses)."""
    python = shutil.which("python3", path="/usr/bin:/bin")
    code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"
    probe = subprocess.run([python, "-c", "import yaml"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip("PyYAML (python3-yaml) is not installed")
    out = subprocess.run([python, "-c", code], input=text, capture_output=True, text=True,
                         check=True, timeout=30)
    return json.loads(out.stdout)


def test_cloud_init_files_are_valid_yaml(trixie, tmp_path, inputs):
    psk = tmp_path / "psk"
    psk.write_text("with: colon # and hash\n")
    card = tmp_path / "card.img"
    result = flash(trixie, card, inputs, "--wifi-ssid", "Staff: 5GHz", "--wifi-psk-file",
                   str(psk), "--wifi-country", "NL")
    assert result.returncode == 0, result.stderr
    user_data = yaml_load(images.fat_read(card, "user-data").decode())
    assert user_data["users"][0]["name"] == "tech"
    assert user_data["users"][0]["ssh_authorized_keys"] == [SSH_KEY.strip()]
    assert user_data["ssh_pwauth"] is False
    assert any("install-kiosk.sh" in " ".join(map(str, cmd)) for cmd in user_data["runcmd"])
    network = yaml_load(images.fat_read(card, "network-config").decode())
    points = network["network"]["wifis"]["wlan0"]["access-points"]
    assert points == {"Staff: 5GHz": {"password": "with: colon # and hash"}}
    meta = yaml_load(images.fat_read(card, "meta-data").decode())
    assert meta["local-hostname"] == "ams-security-03"


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


def test_without_wheelhouse_one_is_built_for_the_pi(trixie, tmp_path, inputs):
    """pip (the DEPLOY_PIP seam, a stub here) builds the kiosk wheel from the checkout and
    downloads aarch64 wheels for the Python of Bookworm and of Trixie."""
    log = tmp_path / "pip.log"
    pip = tmp_path / "fake-pip"
    pip.write_text(
        '#!/usr/bin/env bash\necho "pip $*" >>"$PIP_LOG"\n'
        'while (($#)); do case $1 in\n'
        '  --wheel-dir|-w) touch "$2/kiosk_hub-0.1.0-py3-none-any.whl"; shift ;;\n'
        '  --dest|-d) touch "$2/requests-2.32.0-py3-none-any.whl"'
        ' "$2/markupsafe-3.0.2-cp311-cp311-manylinux_2_17_aarch64.whl"; shift ;;\n'
        'esac; shift; done\n')
    pip.chmod(0o755)
    card = tmp_path / "card.img"
    args = [str(FLASH), str(trixie), str(card), "--config", str(inputs["config"]),
            "--token-file", str(inputs["token"]), "--yes"]
    env = {**os.environ, "DEPLOY_PIP": str(pip), "PIP_LOG": str(log)}
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("pip wheel ") and "--no-deps" in calls[0]
    assert calls[0].endswith(str(REPO))
    downloads = [c for c in calls if c.startswith("pip download ")]
    assert len(downloads) == 2
    for call, python in zip(downloads, ("3.11", "3.13"), strict=True):
        assert "--only-binary=:all:" in call and "--platform manylinux2014_aarch64" in call
        assert f"--python-version {python}" in call
    assert images.fat_list(card, "kiosk/wheelhouse") == [
        "kiosk_hub-0.1.0-py3-none-any.whl",
        "markupsafe-3.0.2-cp311-cp311-manylinux_2_17_aarch64.whl",
        "requests-2.32.0-py3-none-any.whl"]
