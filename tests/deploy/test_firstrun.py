"""deploy/lib/firstrun.sh (the Bookworm first boot) against a throwaway boot partition and
root directory, with stub system commands; and shellcheck over every deploy script."""

import shlex
import subprocess
from pathlib import Path

from .conftest import DEPLOY, REPO, make_wheelhouse
from .images import CMDLINE

HOOK = ("systemd.run=/boot/firmware/firstrun.sh systemd.run_success_action=reboot"
        " systemd.unit=kernel-command-line.target")
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstRunTestKey tech@laptop"


def boot_partition(base: Path, bundle: Path, wifi=True) -> Path:
    boot = base / "boot"
    boot.mkdir()
    (boot / "cmdline.txt").write_text(CMDLINE.strip() + " " + HOOK + "\n")
    (boot / "firstrun.sh").write_text((DEPLOY / "lib/firstrun.sh").read_text())
    kit = boot / "kiosk"
    subprocess.run(["cp", "-r", str(bundle), str(kit)], check=True)
    (kit / "install-kiosk.sh").write_text((DEPLOY / "lib/install-kiosk.sh").read_text())
    settings = {"KIOSK_HOSTNAME": "ams-security-03", "KIOSK_TIMEZONE": "Europe/Amsterdam",
                "TECH_USER": "tech", "TECH_SSH_KEY": KEY,
                "WIFI_SSID": "Airport Staff" if wifi else "",
                "WIFI_PSK": "s3cret 'pass'" if wifi else "", "WIFI_COUNTRY": "NL"}
    (kit / "setup.env").write_text(
        "".join(f"{k}={shlex.quote(v)}\n" for k, v in settings.items()))
    return boot


def test_first_boot_sets_up_the_pi_and_removes_its_traces(fake_system, bundle, tmp_path):
    root = fake_system.root
    (root / "etc/hostname").write_text("raspberrypi\n")
    (root / "etc/hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")
    (bundle / "timesyncd.conf").write_text("[Time]\nNTP=ntp1.airport.example\n")
    (bundle / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    boot = boot_partition(tmp_path, bundle)
    env = {**fake_system.env, "KIOSK_BOOT": str(boot)}
    result = subprocess.run(["bash", str(boot / "firstrun.sh")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    log = (root / "var/log/kiosk-firstboot.log").read_text()
    assert "kiosk first boot: done" in log, log

    assert (root / "etc/hostname").read_text() == "ams-security-03\n"
    assert "127.0.1.1\tams-security-03" in (root / "etc/hosts").read_text()
    assert (root / "etc/timezone").read_text() == "Europe/Amsterdam\n"
    keys = root / "home/tech/.ssh/authorized_keys"
    assert keys.read_text() == KEY + "\n" and keys.stat().st_mode & 0o777 == 0o600
    assert "PasswordAuthentication no" in (root / "etc/ssh/sshd_config.d/10-kiosk.conf").read_text()
    wifi = root / "etc/NetworkManager/system-connections/kiosk-wifi.nmconnection"
    assert "ssid=Airport Staff" in wifi.read_text() and "psk=s3cret 'pass'" in wifi.read_text()
    assert wifi.stat().st_mode & 0o777 == 0o600

    # The kiosk: installed by install-kiosk.sh into the root, enabled, not started.
    assert (root / "etc/kiosk/token").read_text() == (bundle / "token").read_text()
    assert (root / "etc/systemd/system/kiosk.service").read_text() == (
        REPO / "systemd/kiosk.service").read_text()
    calls = fake_system.calls()
    assert f"systemctl --root={root} enable kiosk.service" in calls
    assert not any("restart" in c or c.startswith("systemctl start") for c in calls)
    # The technician runs `kiosk status` and `kiosk selftest` as typed (group kiosk-admin).
    assert "kiosk-admin:x:999:tech" in (root / "etc/group").read_text().splitlines()
    assert (root / "usr/local/bin/kiosk").read_text() == (
        DEPLOY / "lib/kiosk-wrapper.sh").read_text()
    assert "%kiosk-admin ALL=(kiosk) NOPASSWD: /usr/local/bin/kiosk status," in (
        root / "etc/sudoers.d/kiosk-admin").read_text()

    # --ntp and --ca-file of deploy/flash, from the card into /etc.
    assert (root / "etc/systemd/timesyncd.conf.d/kiosk.conf").read_text() == (
        bundle / "timesyncd.conf").read_text()
    assert (root / "etc/kiosk/ca.pem").read_text() == (bundle / "ca.pem").read_text()
    assert (root / "etc/kiosk/ca.pem").stat().st_mode & 0o777 == 0o644

    # Traces gone: the hook, the script, the token and config copies.
    assert (boot / "cmdline.txt").read_text() == CMDLINE
    assert not (boot / "firstrun.sh").exists()
    assert not (boot / "kiosk").exists()


def secrets_left(boot: Path, *secrets: str):
    """Files under BOOT (the card's FAT partition) that hold one of SECRETS."""
    return sorted(str(p.relative_to(boot)) for p in boot.rglob("*") if p.is_file()
                  and any(secret.encode() in p.read_bytes() for secret in secrets))


def test_failed_install_leaves_a_log_on_the_boot_partition_and_no_secret(fake_system, bundle,
                                                                         tmp_path):
    (bundle / "kiosk.service").unlink()       # install-kiosk.sh refuses a bundle without it
    boot = boot_partition(tmp_path, bundle, wifi=True)
    token = (bundle / "token").read_text().strip()
    assert secrets_left(boot, token, "s3cret") == ["kiosk/setup.env", "kiosk/token"]
    env = {**fake_system.env, "KIOSK_BOOT": str(boot)}
    result = subprocess.run(["bash", str(boot / "firstrun.sh")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0              # the reboot must follow anyway
    assert (boot / "cmdline.txt").read_text() == CMDLINE  # it runs once: no retry loop
    log = (boot / "kiosk/firstboot.log").read_text()
    assert "kiosk.service is missing" in log and "kiosk first boot: FAILED" in log
    # Neither the token nor the Wi-Fi passphrase is left on the card, in any file.
    assert secrets_left(boot, token, "s3cret") == []
    assert (boot / "kiosk/kiosk.toml").exists()  # what is no secret stays, to look at


def test_install_into_another_root_starts_nothing(fake_system, bundle):
    make_wheelhouse(bundle / "wheelhouse")
    result = subprocess.run(
        ["bash", str(DEPLOY / "lib/install-kiosk.sh"), "--source", str(bundle), "--root",
         str(fake_system.root)], env=fake_system.env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    calls = fake_system.calls()
    assert f"systemctl --root={fake_system.root} enable kiosk.service" in calls
    assert not any(c.startswith("systemctl") and "--root" not in c for c in calls)


def test_every_deploy_script_is_shellcheck_clean():
    scripts = ["deploy/flash", "deploy/provision",
               *sorted(str(p.relative_to(REPO)) for p in (DEPLOY / "lib").glob("*.sh"))]
    # The same command as `make lint`, from the repository root.
    result = subprocess.run(["shellcheck", *scripts], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    in_deploy = {str(p.relative_to(REPO)) for p in DEPLOY.rglob("*")
                 if p.is_file() and (p.suffix == ".sh" or p.read_bytes().startswith(b"#!"))
                 and not p.read_bytes().startswith(b"#!/usr/bin/env python3")}
    assert in_deploy <= set(scripts), in_deploy - set(scripts)
