"""Replace a card, end to end, the way docs/technician.md tells a technician to: register the
device, write its kiosk.toml, `deploy/flash` a card (a synthetic Pi OS image in a file), run
what the card installs (`kiosk run`, here --simulate on mock pins) against a real `hub serve`.
The card dies with presses it never sent; a new card is flashed for the same device, with the
same token or, the old card being lost, a rotated one (`hub device rotate-token`); it presses
and syncs. The old card turns up again and is put back in: every press of both cards is on the
hub exactly once, and the device kept its id and location.
"""

import json
import os
import shutil
import subprocess

import pytest

from tests.deploy import images
from tests.deploy.conftest import DEPLOY, make_wheelhouse
from tests.faults.helpers import check_cards, drain, hub_seqs, rows
from tests.support import wait_until
from tests.sync.processes import HubProcess, KioskProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not all(shutil.which(tool) for tool in
                               ("mcopy", "mkfs.vfat", "sfdisk", "debugfs", "pv")),
                       reason="needs mtools, dosfstools, fdisk, e2fsprogs and pv"),
]

DEVICE = "ams-security-03"
RATE = 600  # presses a minute
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx1Zq7v0kTechnicianKeyForTests tech@laptop\n"


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return images.build_image(tmp_path_factory.mktemp("image") / "bookworm", "bookworm")


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(tmp_path, location="ams-security")
    yield hub
    hub.stop()


class Technician:
    """What the guide has the technician type, on the laptop and on the hub."""

    def __init__(self, tmp_path, hub, image):
        self.dir = tmp_path / "laptop"
        self.dir.mkdir()
        self.hub, self.image = hub, image
        self.key = self.dir / "id_ed25519.pub"
        self.key.write_text(SSH_KEY)
        self.wheelhouse = make_wheelhouse(self.dir / "wheelhouse")
        # The guide's kiosk.toml; short intervals so that the test does not wait.
        self.config = self.dir / f"{DEVICE}.toml"
        self.config.write_text(
            f'device_id = "{DEVICE}"\nhub_url = "{hub.url}"\ntoken_file = "/etc/kiosk/token"\n'
            "lockout_s = 0.0\nsync_interval_s = 0.3\n"
            "[buttons]\nvery_unhappy = 5\nunhappy = 6\nhappy = 13\nvery_happy = 19\n")
        self.token = self.dir / f"{DEVICE}.token"

    def register(self):
        self.token.write_text(self.hub.cli("device", "add", DEVICE, "--location",
                                           "ams-security"))

    def rotate_token(self):
        self.token.write_text(self.hub.cli("device", "rotate-token", DEVICE))

    def flash(self, name):
        """`deploy/flash IMAGE card.img --config … --token-file …`; the card image."""
        card = self.dir / f"{name}.img"
        result = subprocess.run(
            [str(DEPLOY / "flash"), str(self.image), str(card), "--config", str(self.config),
             "--token-file", str(self.token), "--ssh-key", str(self.key),
             "--wheelhouse", str(self.wheelhouse), "--yes"],
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            env=os.environ.copy())
        assert result.returncode == 0, result.stderr[-2000:]
        return card


def boot(card, directory):
    """A Pi booting *card*: what the first boot installs (kiosk.toml and the token from the
    boot partition into /etc/kiosk, the buffer in /var/lib/kiosk), with the Pi's root under
    *directory*; the kiosk as a KioskProcess that runs `kiosk run` with that config."""
    kiosk = KioskProcess(directory, DEVICE, "http://unused", "unused")
    root = kiosk.dir
    (root / "etc/kiosk").mkdir(parents=True)
    (root / "etc/kiosk/token").write_bytes(images.fat_read(card, "kiosk/token"))
    installed = images.fat_read(card, "kiosk/kiosk.toml").decode()
    assert 'token_file = "/etc/kiosk/token"' in installed
    installed = installed.replace('"/etc/kiosk/token"', f'"{root}/etc/kiosk/token"')
    # The Pi's /var/lib/kiosk (kiosk.service's StateDirectory): empty on a new card.
    kiosk.config.write_text(f'data_dir = "{kiosk.data_dir}"\n{installed}')
    return kiosk


def press_and_sync(hub, kiosk, presses):
    """Run *kiosk* until the hub holds at least *presses* more presses of the device."""
    held = len(hub_seqs(hub, DEVICE))
    kiosk.start(RATE)
    wait_until(lambda: len(hub_seqs(hub, DEVICE)) >= held + presses, timeout=60,
               message=f"{presses} presses of the card on the hub")


def die_with_unsent_presses(hub, kiosk):
    """The hub goes away (a network cut), the card records on, then the card dies."""
    hub.stop()
    recorded = kiosk.status()["recorded_total"]
    wait_until(lambda: kiosk.status()["recorded_total"] >= recorded + 10, timeout=30,
               message="presses recorded while the hub is away")
    assert kiosk.stop() == 0
    assert kiosk.status()["queued"] >= 10
    hub.start()


@pytest.mark.parametrize("old_card", ["dead, token kept", "lost, token rotated"])
def test_replace_a_card_keeps_the_device_and_every_press(hub, image, tmp_path, old_card):
    hub.start()
    tech = Technician(tmp_path, hub, image)
    tech.register()
    first = boot(tech.flash("card-1"), tmp_path / "pi-card-1")
    press_and_sync(hub, first, 30)
    die_with_unsent_presses(hub, first)

    rotated = old_card.startswith("lost")
    if rotated:
        tech.rotate_token()  # the lost card's token stops working now
    second = boot(tech.flash("card-2"), tmp_path / "pi-card-2")
    press_and_sync(hub, second, 30)
    assert second.stop() == 0
    state = second.status()
    assert state["renumbered"] is not None  # numbered on above what the hub held
    assert state["buffer_id"] != first.status()["buffer_id"]

    # The old card turns up again (with the old token if it was rotated meanwhile).
    seen = first.log.stat().st_size
    first.start(0)
    if rotated:
        wait_until(lambda: (first.status()["last_sync_error"] or "").startswith("HTTP 401"),
                   timeout=30, message="the old card's old token to be refused")
        shutil.copyfile(tech.token, first.dir / "etc/kiosk/token")  # no restart needed
        wait_until(lambda: "holds a new token; trying it now" in first.log.read_text()[seen:],
                   timeout=30, message="the old card to pick up the new token")
    drain(hub, first)
    drain(hub, second)

    figures = check_cards(hub, DEVICE, [first, second], tmp_path)
    assert figures["lost"] == figures["duplicates"] == 0 and figures["presses"] >= 70
    (device,) = [d for d in hub_devices(hub) if d["device_id"] == DEVICE]
    assert (device["location"], device["revoked_at"], device["cards"]) == ("ams-security",
                                                                          None, 2)
    assert rows(hub.db, "SELECT count(*) FROM devices")[0][0] == 1


def hub_devices(hub):
    return json.loads(hub.cli("device", "list", "--json"))
