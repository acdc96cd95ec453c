"""deploy/labels: one SVG label per kiosk of `hub device list --format csv`."""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import DEPLOY

segno = pytest.importorskip("segno")
LABELS = DEPLOY / "labels"
SVG = "{http://www.w3.org/2000/svg}"


def hub(tmp_path, *args):
    command = [str(Path(sys.executable).with_name("hub")), "--db", str(tmp_path / "hub.db"), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout


def drawn_modules(svg_root):
    """The dark modules of the label's QR code, as (x, y), from its path."""
    path = svg_root.find(f"{SVG}g/{SVG}path").get("d")
    return {(int(x), int(y)) for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", path)}


def test_a_label_per_kiosk_with_its_id_location_and_the_hub_page_as_qr(tmp_path):
    hub(tmp_path, "init-db")
    hub(tmp_path, "location", "add", "ams-security", "--name", "Security",
        "--timezone", "Europe/Amsterdam")
    for device in ("ams-security-01", "ams-security-02", "old-one"):
        hub(tmp_path, "device", "add", device, "--location", "ams-security")
    hub(tmp_path, "device", "revoke", "old-one")
    inventory = tmp_path / "fleet.csv"
    inventory.write_text(hub(tmp_path, "device", "list", "--format", "csv"))

    result = subprocess.run(
        [sys.executable, str(LABELS), str(inventory), "--hub-url", "https://hub.example.org/",
         "--out", str(tmp_path / "labels")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    labels = sorted(p.name for p in (tmp_path / "labels").iterdir())
    assert labels == ["ams-security-01.svg", "ams-security-02.svg"]  # not the revoked one

    root = ET.parse(tmp_path / "labels/ams-security-01.svg").getroot()
    assert (root.get("width"), root.get("height")) == ("62mm", "29mm")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["ams-security-01", "ams-security",
                     "hub.example.org/locations/ams-security"]
    expected = segno.make("https://hub.example.org/locations/ams-security", error="m")
    dark = {(x, y) for y, row in enumerate(expected.matrix_iter(border=2))
            for x, bit in enumerate(row) if bit}
    assert drawn_modules(root) == dark


def test_bad_arguments_are_one_line(tmp_path):
    for args in (["missing.csv", "--hub-url", "https://hub.example.org"],
                 [str(LABELS), "--hub-url", "ftp://x"]):
        result = subprocess.run([sys.executable, str(LABELS), *args], capture_output=True,
                                text=True, timeout=60, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
