"""deploy/flash onto a plain file target: synthetic Bookworm and Trixie images (.img and
.img.xz), checked with mtools afterwards; usage errors. No network, no block device."""

import json
import os
import re
import shutil
import subprocess
import tomllib

import pytest

from ..tls import PrivateCA
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
    assert ("/boot/firmware/kiosk/install-kiosk.sh --source /boot/firmware/kiosk --admin tech"
            in user_data)
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


@pytest.mark.parametrize("install_works", [True, False])
def test_trixie_first_boot_wipes_its_secrets_whether_the_install_worked_or_not(
        trixie, tmp_path, inputs, install_works):
    """The runcmd of user-data, run as cloud-init would (sh -c), with the Pi's three
    directories it touches (/boot/firmware, /etc/cloud, /var/log) moved into tmp_path: the
    boot partition copied out of the card with mtools; install-kiosk.sh a stub that works
    or fails."""
    psk = tmp_path / "psk"
    psk.write_text("secret passphrase\n")
    card = tmp_path / "card.img"
    result = flash(trixie, card, inputs, "--wifi-ssid", "Staff", "--wifi-psk-file", str(psk),
                   "--wifi-country", "NL")
    assert result.returncode == 0, result.stderr
    boot = tmp_path / "boot"
    boot.mkdir()
    subprocess.run(["mcopy", "-s", "-i", images.fat(card), "::*", str(boot)], check=True,
                   env=os.environ | {"MTOOLS_SKIP_CHECK": "1"}, capture_output=True)
    assert (boot / "network-config").exists() and (boot / "kiosk" / "token").exists()
    (boot / "kiosk" / "install-kiosk.sh").write_text(
        "echo installing from \"$2\"\n" + ("exit 0\n" if install_works else
                                              "echo no wheel for this Python >&2; exit 1\n"))
    user_data = yaml_load((boot / "user-data").read_text())
    commands = [cmd for cmd in user_data["runcmd"] if "install-kiosk.sh" in " ".join(cmd)]
    assert len(commands) == 1 and commands[0][:2] == ["sh", "-c"]
    etc_cloud, var_log = tmp_path / "etc-cloud", tmp_path / "var-log"
    etc_cloud.mkdir()
    var_log.mkdir()
    command = commands[0][2]
    for pi_path, here in (("/boot/firmware", boot), ("/etc/cloud", etc_cloud),
                          ("/var/log", var_log)):
        assert pi_path in command
        command = command.replace(pi_path, str(here))
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    log = (var_log / "kiosk-firstboot.log").read_text()
    assert f"installing from {boot}/kiosk" in log
    seeds = {name for name in ("user-data", "meta-data", "network-config")
             if (boot / name).exists()}
    assert seeds == set()  # the Wi-Fi passphrase is off the card, success or not
    assert (etc_cloud / "cloud-init.disabled").exists()  # never a second, half set-up run
    assert (boot / "cmdline.txt").read_text() == images.CMDLINE  # boot files untouched
    token = inputs["token"].read_text().strip()
    left = [p for p in boot.rglob("*") if p.is_file()
            and (token.encode() in p.read_bytes() or b"secret passphrase" in p.read_bytes())]
    assert left == []
    if install_works:
        assert not (boot / "kiosk").exists()  # config, wheelhouse: gone
        assert "kiosk first boot: done" in log
    else:
        assert "no wheel for this Python" in (boot / "kiosk" / "firstboot.log").read_text()
        assert "kiosk first boot: FAILED" in log


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


def test_progress_shows_bytes_rate_and_eta_line_by_line_in_a_log(bookworm, tmp_path, inputs):
    card = tmp_path / "card.img"
    env = os.environ | {"DEPLOY_PROGRESS_INTERVAL": "0.05"}
    result = flash(bookworm, card, inputs, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    progress = [line for line in lines if line.startswith("  written ")]
    assert progress, result.stderr
    assert "\r" not in result.stderr  # lines, not a terminal's redrawn bar
    size = _human(bookworm.stat().st_size)
    line = re.compile(rf"  written ([\d.]+\s?[KMG]i?B) of {re.escape(size)} "
                      r"\[\s*[\d.]+\s?[KMG]?i?B/s\]( ETA \d+:\d\d(:\d\d)?)?")
    matches = [line.fullmatch(text.rstrip()) for text in progress]
    assert all(matches), progress
    assert matches[-1].group(1).replace(" ", "") == size.replace(" ", "")  # all of it
    if len(progress) > 1:  # pv blanks the ETA once done; before, it says how long
        assert all(m.group(2) for m in matches[:-1]), progress
    # Every progress line comes before the verification says anything.
    assert lines.index(progress[-1]) < next(n for n, line in enumerate(lines)
                                            if line.startswith("verified"))


def _human(size):
    """As deploy/lib/common.sh's human_bytes prints it."""
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    n = 0
    while size >= 1024 and n < 4:
        size, n = size / 1024, n + 1
    return f"{int(size)} B" if n == 0 else f"{size:.1f} {units[n]}"


def test_a_card_that_reads_back_wrong_fails_and_says_so(bookworm, tmp_path, inputs):
    """A card that silently stores a wrong byte (the classic fake card): dd reads back one
    byte changed (a stub in front of the real dd), so the hashes differ."""
    card = tmp_path / "card.img"
    stub = tmp_path / "bin"
    stub.mkdir()
    real_dd = shutil.which("dd")
    (stub / "dd").write_text(
        "#!/usr/bin/env bash\n"
        f'case " $* " in *" if={card} "*) {real_dd} "$@" | '
        "{ head -c 1000 ; printf X; tail -c +1002; } ;;\n"
        f'  *) exec {real_dd} "$@" ;; esac\n')
    (stub / "dd").chmod(0o755)
    env = os.environ | {"PATH": f"{stub}:{os.environ['PATH']}"}
    result = flash(bookworm, card, inputs, env=env)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("flash: error: verification FAILED:")
    assert "verified" not in result.stderr
    assert not images.fat_exists(card, "kiosk/token")  # nothing written onto a bad card


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


def test_ntp_and_a_private_ca_land_on_the_card(bookworm, tmp_path, inputs):
    """--ntp (repeatable) becomes the timesyncd drop-in, --ca-file the CA beside the config,
    which names it: install-kiosk.sh puts them in /etc at the first boot (test_firstrun)."""
    ca = PrivateCA.create(tmp_path / "ca")
    card = tmp_path / "card.img"
    result = flash(bookworm, card, inputs, "--ntp", "ntp1.airport.example", "--ntp", "10.20.0.1",
                   "--ca-file", str(ca.cert))
    assert result.returncode == 0, result.stderr
    assert images.fat_read(card, "kiosk/timesyncd.conf").decode().splitlines()[1:] == [
        "[Time]", "NTP=ntp1.airport.example 10.20.0.1"]
    assert images.fat_read(card, "kiosk/ca.pem") == ca.cert.read_bytes()
    config = tomllib.loads(images.fat_read(card, "kiosk/kiosk.toml").decode())
    assert config["ca_file"] == "/etc/kiosk/ca.pem"
    assert config["buttons"]["happy"] == 13  # the rest as given
    # Without them: neither file, the config byte for byte.
    plain = tmp_path / "plain.img"
    assert flash(bookworm, plain, inputs).returncode == 0
    assert not images.fat_exists(plain, "kiosk/timesyncd.conf")
    assert not images.fat_exists(plain, "kiosk/ca.pem")
    assert images.fat_read(plain, "kiosk/kiosk.toml") == inputs["config"].read_bytes()


def test_ntp_and_ca_file_are_checked_before_writing(bookworm, tmp_path, inputs):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("hello\n")
    card = tmp_path / "card.img"
    for extra, message in ((["--ntp", "ntp.example; reboot"], "--ntp: 'ntp.example; reboot'"),
                           (["--ca-file", str(not_pem)], "holds no PEM certificate")):
        result = flash(bookworm, card, inputs, *extra)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
        assert not card.exists()
    # A config that names a ca_file needs the CA itself, or the daemon would stop on it.
    inputs["config"].write_text(inputs["config"].read_text().replace(
        'token_file', 'ca_file = "/etc/ssl/site.pem"\ntoken_file'))
    result = flash(bookworm, card, inputs)
    assert result.returncode == 1 and "give that CA with --ca-file PEM" in result.stderr
    assert not card.exists()


def test_a_card_image_file_is_the_technicians_alone(bookworm, tmp_path, inputs):
    """A plain-file card holds the token (and the Wi-Fi passphrase): 0600, new or not."""
    new = tmp_path / "new.img"
    old = tmp_path / "old.img"
    old.write_bytes(b"")
    old.chmod(0o644)
    for card in (new, old):
        result = flash(bookworm, card, inputs)
        assert result.returncode == 0, result.stderr
        assert card.stat().st_mode & 0o777 == 0o600
