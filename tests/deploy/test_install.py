"""deploy/lib/install-kiosk.sh against a throwaway root with stub system commands."""

import subprocess

from .conftest import INSTALL, REPO, make_wheelhouse


def run_install(fake_system, *args):
    return subprocess.run(["bash", str(INSTALL), *args], env=fake_system.env,
                          capture_output=True, text=True, timeout=60)


def test_first_install_leaves_config_token_unit_and_enables(fake_system, bundle):
    result = run_install(fake_system, "--source", str(bundle))
    assert result.returncode == 0, result.stderr
    root = fake_system.root
    assert (root / "etc/kiosk/kiosk.toml").read_text() == (bundle / "kiosk.toml").read_text()
    token = root / "etc/kiosk/token"
    assert token.read_text() == "tok-3f9a2c\n"
    assert token.stat().st_mode & 0o777 == 0o600
    assert (root / "etc/kiosk/kiosk.toml").stat().st_mode & 0o777 == 0o600
    unit = root / "etc/systemd/system/kiosk.service"
    assert unit.read_text() == (REPO / "systemd/kiosk.service").read_text()
    calls = fake_system.calls()
    assert "systemctl enable kiosk.service" in calls
    assert "systemctl restart kiosk.service" in calls
    assert f"python3 -m venv --system-site-packages {root}/opt/kiosk" in calls
    pip = [c for c in calls if c.startswith("venv-python -m pip install")]
    assert pip and f"--no-index --find-links {bundle}/wheelhouse" in pip[0]
    assert pip[0].endswith(" kiosk-hub")
    assert f"useradd --prefix {root} --system --user-group --groups gpio" in " ".join(calls)
    assert f"chown kiosk:kiosk {root}/etc/kiosk/token.new" in calls
    assert "kiosk: changed, kiosk.service restarted" in result.stdout


def test_second_run_is_unchanged_and_restarts_nothing(fake_system, bundle):
    assert run_install(fake_system, "--source", str(bundle)).returncode == 0
    fake_system.clear_log()
    result = run_install(fake_system, "--source", str(bundle))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "kiosk: unchanged"
    assert fake_system.calls() == []


def test_new_token_is_installed_and_restarts(fake_system, bundle):
    run_install(fake_system, "--source", str(bundle))
    (bundle / "token").write_text("tok-new\n")
    fake_system.clear_log()
    result = run_install(fake_system, "--source", str(bundle))
    assert (fake_system.root / "etc/kiosk/token").read_text() == "tok-new\n"
    assert "changed: /etc/kiosk/token" in result.stdout
    assert fake_system.calls()[-1] == "systemctl restart kiosk.service"
    assert not any("pip" in c for c in fake_system.calls())


def test_new_wheelhouse_needs_upgrade(fake_system, bundle):
    run_install(fake_system, "--source", str(bundle))
    for old in (bundle / "wheelhouse").glob("kiosk_hub-*"):
        old.unlink()
    make_wheelhouse(bundle / "wheelhouse", version="0.2.0")
    fake_system.clear_log()
    result = run_install(fake_system, "--source", str(bundle))
    assert "run with --upgrade" in result.stdout
    assert fake_system.calls() == []
    result = run_install(fake_system, "--source", str(bundle), "--upgrade")
    calls = fake_system.calls()
    assert any(c.startswith("venv-python -m pip install") for c in calls)
    assert calls[-1] == "systemctl restart kiosk.service"
    assert not any("useradd" in c for c in calls)
    # A fresh venv, every dependency from the wheelhouse (none from the system's packages).
    assert any(c.startswith("python3 -m venv --system-site-packages") for c in calls)
    assert "--ignore-installed" in [c for c in calls if "pip install" in c][0]
    # The install it replaced waits for --rollback.
    previous = fake_system.root / "opt/kiosk.previous"
    assert (previous / ".wheelhouse.sha256").read_text() != (
        fake_system.root / "opt/kiosk/.wheelhouse.sha256").read_text()


def test_rollback_swaps_back_code_and_unit_and_keeps_buffer_config_and_token(fake_system,
                                                                             bundle):
    root = fake_system.root
    assert run_install(fake_system, "--source", str(bundle)).returncode == 0
    old_digest = (root / "opt/kiosk/.wheelhouse.sha256").read_text()
    old_unit = (root / "etc/systemd/system/kiosk.service").read_text()
    (root / "var/lib/kiosk").mkdir(parents=True)
    (root / "var/lib/kiosk/buffer.db").write_bytes(b"presses")
    for old in (bundle / "wheelhouse").glob("kiosk_hub-*"):
        old.unlink()
    make_wheelhouse(bundle / "wheelhouse", version="0.2.0")
    (bundle / "kiosk.service").write_text(old_unit.replace("RestartSec=2", "RestartSec=3"))
    assert run_install(fake_system, "--source", str(bundle), "--upgrade").returncode == 0
    new_digest = (root / "opt/kiosk/.wheelhouse.sha256").read_text()
    assert new_digest != old_digest

    fake_system.clear_log()
    back = run_install(fake_system, "--rollback")
    assert back.returncode == 0, back.stderr
    assert (root / "opt/kiosk/.wheelhouse.sha256").read_text() == old_digest
    assert (root / "opt/kiosk.previous/.wheelhouse.sha256").read_text() == new_digest
    assert (root / "etc/systemd/system/kiosk.service").read_text() == old_unit
    assert fake_system.calls() == ["systemctl daemon-reload", "systemctl restart kiosk.service"]
    assert (root / "var/lib/kiosk/buffer.db").read_bytes() == b"presses"
    assert (root / "etc/kiosk/token").read_text() == "tok-3f9a2c\n"
    # Rolling back again rolls forward.
    assert run_install(fake_system, "--rollback").returncode == 0
    assert (root / "opt/kiosk/.wheelhouse.sha256").read_text() == new_digest


def test_rollback_without_a_previous_install_is_one_line(fake_system, bundle):
    assert run_install(fake_system, "--source", str(bundle)).returncode == 0
    fake_system.clear_log()
    result = run_install(fake_system, "--rollback")
    assert result.returncode == 1
    assert result.stderr == ("install-kiosk: no previous install in /opt/kiosk.previous:"
                             " nothing to roll back to\n")
    assert fake_system.calls() == []


def test_an_upgrade_without_config_and_token_keeps_the_installed_ones(fake_system, bundle):
    assert run_install(fake_system, "--source", str(bundle)).returncode == 0
    (bundle / "kiosk.toml").unlink()
    (bundle / "token").unlink()
    for old in (bundle / "wheelhouse").glob("kiosk_hub-*"):
        old.unlink()
    make_wheelhouse(bundle / "wheelhouse", version="0.2.0")
    result = run_install(fake_system, "--source", str(bundle), "--upgrade")
    assert result.returncode == 0, result.stderr
    assert (fake_system.root / "etc/kiosk/token").read_text() == "tok-3f9a2c\n"
    assert "changed: /etc/kiosk/token" not in result.stdout


def test_failed_upgrade_keeps_the_previous_install_and_buffer(fake_system, bundle):
    assert run_install(fake_system, "--source", str(bundle)).returncode == 0
    root = fake_system.root
    installed = (root / "opt/kiosk/.wheelhouse.sha256").read_text()
    (root / "var/lib/kiosk").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/kiosk/buffer.db").write_bytes(b"presses")
    for old in (bundle / "wheelhouse").glob("kiosk_hub-*"):
        old.unlink()
    make_wheelhouse(bundle / "wheelhouse", version="0.2.0")
    fake_system.clear_log()
    fake_system.env["STUB_PIP_FAIL"] = "1"
    result = run_install(fake_system, "--source", str(bundle), "--upgrade")
    assert result.returncode != 0
    assert "previous install (if any) is kept" in result.stderr
    assert (root / "opt/kiosk/.wheelhouse.sha256").read_text() == installed
    assert not (root / "opt/kiosk.previous").exists()
    assert (root / "var/lib/kiosk/buffer.db").read_bytes() == b"presses"
    assert not any("restart" in c for c in fake_system.calls())


def test_no_start_enables_without_starting(fake_system, bundle):
    result = run_install(fake_system, "--source", str(bundle), "--no-start")
    assert result.returncode == 0, result.stderr
    calls = fake_system.calls()
    assert "systemctl enable kiosk.service" in calls
    assert not any("restart" in c or " start" in c for c in calls)


def test_without_wheelhouse_pip_uses_the_network(fake_system, bundle):
    for wheel in (bundle / "wheelhouse").iterdir():
        wheel.unlink()
    result = run_install(fake_system, "--source", str(bundle))
    assert result.returncode == 0, result.stderr
    pip = [c for c in fake_system.calls() if "pip install" in c][0]
    assert "--no-index" not in pip


def test_missing_source_file_is_one_line(fake_system, bundle):
    (bundle / "token").unlink()
    result = run_install(fake_system, "--source", str(bundle))
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "token is missing" in result.stderr


def test_without_python3_lgpio_it_stops_in_one_line_before_changing_anything(fake_system,
                                                                             bundle):
    """gpiozero needs Pi OS's python3-lgpio: without it the service would crash-loop."""
    fake_system.env["STUB_NO_LGPIO"] = "1"
    result = run_install(fake_system, "--source", str(bundle))
    assert result.returncode == 1
    assert result.stderr == ("install-kiosk: python3-lgpio is missing (install it: sudo apt"
                             " install python3-lgpio); nothing installed\n")
    assert fake_system.calls(probes=True) == ["python3 -c import lgpio"]
    assert not (fake_system.root / "etc/kiosk").exists()
    assert not (fake_system.root / "opt/kiosk").exists()
