"""The operator pages in a real browser: Debian's Chromium driven by Playwright against a
real `hub serve`. Screenshots go to $ARTIFACTS_DIR (else the test's tmp_path)."""

import os
import random
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from hub import alerts
from hub.store import Database, registry
from hub.times import format_utc
from tests.support import free_port, wait_until

playwright = pytest.importorskip("playwright.sync_api")

HUB = str(Path(sys.executable).with_name("hub"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CREATED = "2026-01-01T00:00:00.000Z"
PASSWORD = "correct horse battery"
EVIL_NAME = "<img src=x onerror=alert(1)>"
BOOT = "2c1e7c8e-5d8a-4c43-9a55-0d3f4e0c2b11"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


def seed(path, now):
    """Two locations (one named with HTML), devices, an admin; returns device tokens."""
    db = Database(path)
    db.migrate(CREATED)
    registry.ensure_secret_key(db)
    registry.add_location(db, "ams", "Schiphol security", "Europe/Amsterdam",
                          "mon-sun 06:00-23:00", CREATED, group="Airport")
    registry.add_location(db, "evil", EVIL_NAME, "America/St_Johns", None, CREATED,
                          group="Downtown")
    tokens = {device: registry.add_device(db, device, slug, CREATED)
              for device, slug in (("ams-1", "ams"), ("ams-2", "ams"), ("evil-1", "evil"))}
    registry.add_user(db, "ada", PASSWORD, "admin", CREATED)
    db.close()
    return tokens


def presses_for(now, days, per_day, rng, seq0=1):
    """Presses over the last *days*, busier by day, less happy in the late afternoon."""
    presses = []
    seq = seq0
    for _ in range(days * per_day):
        at = now - timedelta(seconds=rng.randrange(20 * 60, days * 86400))
        hour = at.hour
        weights = (1, 2, 5, 6) if hour < 14 else (3, 3, 4, 3)
        presses.append({"seq": seq, "id": f"00000000-0000-4000-8000-{seq:012x}",
                        "mood": rng.choices((1, 2, 3, 4), weights)[0],
                        "pressed_at": format_utc(at), "boot_id": BOOT, "uptime_ms": seq,
                        "clock_synced": True, "misuse": False})
        seq += 1
    return presses


def send(url, device, token, presses):
    for i in range(0, len(presses), 1000):
        body = {"device_id": device, "boot_id": BOOT, "uptime_ms": 10**9,
                "presses": presses[i:i + 1000]}
        response = requests.post(url + "/api/v1/presses", json=body, timeout=10,
                                 headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text


def healthy(url):
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def hub_url(tmp_path):
    now = datetime.now(UTC)
    path = tmp_path / "hub.db"
    tokens = seed(path, now)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([HUB, "--db", str(path), "serve", "--port", str(port),
                                   "--workers", "2"], stdout=log, stderr=subprocess.STDOUT,
                                  env=env, cwd=tmp_path)
    try:
        wait_until(lambda: healthy(url) or server.poll() is not None, timeout=30,
                   message="hub serve")
        assert server.poll() is None, log_path.read_text()
        rng = random.Random(6)
        send(url, "ams-1", tokens["ams-1"], presses_for(now, 30, 120, rng))
        send(url, "ams-2", tokens["ams-2"], presses_for(now, 30, 60, rng))
        send(url, "evil-1", tokens["evil-1"], presses_for(now, 14, 40, rng))
        # A burst of unhappy presses a few minutes ago, then the alert rules run: 20 of 20
        # negative is far beyond what is usual here at any hour (the default rule).
        burst = [{"seq": seq, "id": f"00000000-0000-4000-9000-{seq:012x}", "mood": 1 + seq % 2,
                  "pressed_at": format_utc(now - timedelta(minutes=3, seconds=seq % 60)),
                  "boot_id": BOOT, "uptime_ms": 1, "clock_synced": True, "misuse": False}
                 for seq in range(30 * 120 + 1, 30 * 120 + 21)]
        send(url, "ams-1", tokens["ams-1"], burst)
        db = Database(path)
        try:
            events = alerts.evaluate(db, datetime.now(UTC))
        finally:
            db.close()
        assert ("alert.raised", 1) in events
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture
def artifacts(tmp_path):
    where = Path(os.environ.get("ARTIFACTS_DIR") or tmp_path / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_an_operator_in_chromium(hub_url, browser, artifacts, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    page = context.new_page()
    requested, dialogs, errors = [], [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))

    # Log in (the overview sends us to the login page and back).
    page.goto(hub_url + "/")
    assert urlsplit(page.url).path == "/login"
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(hub_url + "/")

    # The overview: both locations, the HTML name shown as text, an open alert, sparklines.
    overview = page.locator("table.overview")
    assert overview.get_by_role("link", name="Schiphol security").is_visible()
    assert overview.get_by_text(EVIL_NAME, exact=True).is_visible()
    assert page.locator("img").count() == 0
    assert page.locator("svg.sparkline").count() == 2
    assert "Negative feedback" in page.locator("section.warn").inner_text()
    # Each Happy Index with its 95 % interval and n, as design.md writes it.
    schiphol = overview.locator("tr", has_text="Schiphol security").inner_text()
    assert re.search(r"\d+\.\d \(\d+\.\d–\d+\.\d\),\sn\s=\s\d+", schiphol), schiphol
    page.screenshot(path=artifacts / "overview.png", full_page=True)

    # The ranking: n beside each location, and what the order means; its period picker.
    ranking = page.locator("#ranking")
    assert "5 happy presses out of 5 rank below 4,000 out of 5,000" in ranking.inner_text()
    assert ranking.locator("tbody tr").count() == 2
    ranking.get_by_role("link", name="30 days").click()
    page.wait_for_url("**/?ranking=30d#ranking")
    assert page.locator("#ranking a[aria-current=page]").inner_text() == "30 days"
    first = page.locator("#ranking tbody tr").first.inner_text()
    assert first.startswith("1\t") and re.search(r"\t\d{3,}\t", first), first

    # A CSV download of the overview.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    csv_path = tmp_path / "overview.csv"
    download_info.value.save_as(csv_path)
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("slug,name,timezone,group,date,very_unhappy")
    assert {line.split(",")[0] for line in lines[1:]} == {"ams", "evil"}

    # The group filter.
    page.locator("nav.filter").get_by_role("link", name="Downtown").click()
    assert page.locator("table.overview tbody tr").count() == 1

    # A location: the heatmap with its labels, the period picker, the device table.
    page.goto(hub_url + "/")
    page.get_by_role("link", name="Schiphol security").first.click()
    page.wait_for_url("**/locations/ams")
    assert "Europe/Amsterdam" in page.locator("h1").inner_text()
    heatmap = page.locator("svg.heatmap")
    assert heatmap.is_visible()
    assert "Happy Index by weekday and local hour" in heatmap.locator("title").first.text_content()
    assert heatmap.locator("g").count() == 7 * 24  # one shape group (and tooltip) per cell
    assert heatmap.get_by_text("hatched: fewer than 10 presses").is_visible()
    page.locator("nav.filter").get_by_role("link", name="30 days").click()
    page.wait_for_url("**/locations/ams?period=30d")
    assert page.locator("table.devices tbody tr").count() == 2
    page.screenshot(path=artifacts / "location.png", full_page=True)

    # Acknowledge the alert with a comment.
    page.goto(hub_url + "/alerts")
    row = page.locator("table.alerts tbody tr").first
    row.locator("input[name=comment]").fill("Queue was long; extra lane opened")
    with page.expect_navigation():
        row.get_by_role("button", name="Acknowledge").click()
    assert "acknowledged" in page.locator("p.flash").inner_text()
    page.goto(hub_url + "/alerts?show=all")
    assert "Queue was long" in page.locator("table.alerts").inner_text()
    assert "by ada" in page.locator("table.alerts").inner_text()

    # The location with the HTML name: its page shows the name as text too.
    page.goto(hub_url + "/locations/evil")
    assert page.locator("h1").inner_text().startswith(EVIL_NAME)

    # A phone-sized look at the overview.
    phone = browser.new_context(viewport={"width": 390, "height": 844},
                                storage_state=context.storage_state())
    phone_page = phone.new_page()
    phone_page.on("request", lambda request: requested.append(request.url))
    phone_page.goto(hub_url + "/")
    phone_page.screenshot(path=artifacts / "overview-phone.png", full_page=True)
    phone_page.goto(hub_url + "/locations/ams")
    phone_page.screenshot(path=artifacts / "location-phone.png", full_page=True)
    phone.close()
    context.close()

    assert dialogs == [], "a script ran"
    assert errors == [], errors  # e.g. a CSP violation
    outside = [u for u in requested if urlsplit(u).hostname != "127.0.0.1"]
    assert requested and outside == []
    for name in ("overview.png", "location.png", "overview-phone.png", "location-phone.png"):
        assert (artifacts / name).stat().st_size > 10_000
