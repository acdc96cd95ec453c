"""Actions end to end: presses planted before and after two actions (an improvement, and no
change) on a real `hub serve`; one action recorded through the location page's form in
Debian's Chromium, the other with `hub action add`; the verdicts read from the API and from
the pages; axe-core finds no serious or critical violation on the action pages."""

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from hub.store import Database, registry
from tests.support import free_port, wait_until

playwright = pytest.importorskip("playwright.sync_api")
axe = pytest.importorskip("axe_playwright_python.sync_playwright")

HUB = str(Path(sys.executable).with_name("hub"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CREATED = "2026-01-01T00:00:00.000Z"
PASSWORD = "correct horse battery"
BOOT = "7d1e7c8e-5d8a-4c43-9a55-0d3f4e0c2b11"
AMS = ZoneInfo("Europe/Amsterdam")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium"),
]


def planted(start, end, counts, seq):
    """Presses of moods 1-4 (*counts*) spread evenly over [start, end) (UTC), moods
    interleaved."""
    moods = [mood for mood, n in enumerate(counts, start=1) for _ in range(n)]
    moods = moods[::2] + moods[1::2]
    step = (end - start) / len(moods)
    presses = []
    for i, mood in enumerate(moods):
        at = start + step * i + step / 2
        presses.append({"seq": seq, "id": f"00000000-0000-4000-8000-{seq:012x}", "mood": mood,
                        "pressed_at": at.isoformat(timespec="milliseconds").replace("+00:00",
                                                                                    "Z"),
                        "boot_id": BOOT, "uptime_ms": seq, "clock_synced": True,
                        "misuse": False})
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


def serious(page):
    """axe-core's serious and critical violations on the page: (rule, nodes) pairs."""
    found = axe.Axe().run(page).response["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in found
            if v["impact"] in ("serious", "critical")]


@pytest.fixture
def hub(tmp_path):
    """A hub serve with two locations whose presses change (ams) and do not (ber) at a
    Monday 10:00 local two and a bit weeks ago; yields (url, start, tokens, db path)."""
    path = tmp_path / "hub.db"
    db = Database(path)
    db.migrate(CREATED)
    registry.ensure_secret_key(db)
    registry.add_location(db, "ams", "Schiphol security", "Europe/Amsterdam", None, CREATED)
    registry.add_location(db, "ber", "Berlin library", "Europe/Berlin", None, CREATED)
    tokens = {device: registry.add_device(db, device, slug, CREATED)
              for device, slug in (("ams-1", "ams"), ("ber-1", "ber"))}
    registry.add_user(db, "vic", PASSWORD, "viewer", CREATED)
    tokens["api"] = registry.add_api_token(db, "vic", CREATED)
    db.close()
    # The action: 10:00 local, 15 to 21 days ago, so both 14-day windows are over.
    day = (datetime.now(AMS) - timedelta(days=15)).date()
    start = datetime(day.year, day.month, day.day, 10, tzinfo=AMS)
    start -= timedelta(days=start.weekday())
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
        # The windows as the hub counts them: 14 local days at the same clock time.
        first, middle, last = ((start + timedelta(days=days)).astimezone(UTC)
                               for days in (-14, 0, 14))
        # ams: index 53.3 before, 70.8 after (a planted improvement); ber: the same moods.
        before = planted(first, middle, (40, 50, 60, 50), 1)
        after = planted(middle, last, (15, 25, 80, 80), len(before) + 1)
        send(url, "ams-1", tokens["ams-1"], before + after)
        before = planted(first, middle, (30, 40, 70, 60), 1)
        after = planted(middle, last, (30, 40, 70, 60), len(before) + 1)
        send(url, "ber-1", tokens["ber-1"], before + after)
        yield url, start, tokens, path
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def artifacts(tmp_path):
    where = Path(os.environ.get("ARTIFACTS_DIR") or tmp_path / "artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_planted_effects_read_from_the_api_and_the_pages(hub, browser, artifacts):
    url, start, tokens, path = hub
    local = f"{start:%Y-%m-%d %H:%M}"
    # The non-improvement, recorded from the command line.
    added = subprocess.run([HUB, "--db", str(path), "action", "add", "ber", "--title",
                            "Quiet-zone signs", "--at", local], capture_output=True,
                           text=True, timeout=60, check=True)
    signs = int(added.stdout)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requested, errors = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(url + "/login?next=/locations/ams")
    page.fill("input[name=username]", "vic")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/locations/ams")

    # The improvement, recorded by a viewer through the location page's form.
    page.get_by_text("Record an action").click()
    form = page.locator("form.action-form")
    form.get_by_label("What was done").fill("Second scanner opened")
    form.get_by_label("Started").fill(local)
    form.get_by_label("Note").fill("Lane 3, mornings")
    with page.expect_navigation():
        form.get_by_role("button", name="Record action").click()
    assert "Action recorded: Second scanner opened." in page.locator("p.flash").inner_text()
    scanner = int(urlsplit(page.url).path.rsplit("/", 1)[1])

    # The API's verdicts.
    reader = {"Authorization": f"Bearer {tokens['api']}"}
    effects = {name: requests.get(f"{url}/api/v1/actions/{action_id}/effect", headers=reader,
                                  timeout=10).json()
               for name, action_id in (("scanner", scanner), ("signs", signs))}
    assert effects["scanner"]["verdict"] == "better"
    assert (effects["scanner"]["before"]["happy_index"],
            effects["scanner"]["after"]["happy_index"]) == (53.3, 70.8)
    assert effects["scanner"]["before"]["n"] == effects["scanner"]["after"]["n"] == 200
    assert effects["signs"]["verdict"] == "no_clear_change"
    assert effects["signs"]["difference"]["happy_index"] == 0.0
    listed = requests.get(f"{url}/api/v1/locations/ams/actions", headers=reader, timeout=10)
    assert [(a["title"], a["created_by"]) for a in listed.json()["actions"]] == [
        ("Second scanner opened", "vic")]

    # The action page: the verdict in words, before and after side by side, the picker.
    verdict = page.locator("p.verdict-text").inner_text()
    assert verdict == effects["scanner"]["summary"]
    assert verdict == "Better: +17.5 points (11.0 to 24.0), 200 presses before, 200 after"
    table = page.locator("table.effect")
    assert table.get_by_role("row", name="Presses (n)").inner_text().split() == [
        "Presses", "(n)", "200", "200"]
    assert page.get_by_role("link", name="14 days").get_attribute("aria-current") == "page"
    assert serious(page) == []
    page.screenshot(path=artifacts / "action.png", full_page=True)
    page.get_by_role("link", name="7 days").click()
    page.wait_for_url("**days=7")
    assert "Effect over 7 days" in page.locator("h2#effect-heading").inner_text()
    assert page.locator("p.verdict-text").inner_text().startswith("Better: +")

    # The location page: the list with the verdict, the marker on the daily trend.
    page.goto(url + "/locations/ams?period=30d")
    row = page.locator("table.actions tbody tr").first
    assert "Second scanner opened" in row.inner_text()
    assert row.locator(".verdict").inner_text().startswith("Better: +17.5 points")
    marker = page.locator("svg.chart title", has_text="Action 1: Second scanner opened")
    assert marker.count() == 1
    assert serious(page) == []

    # The other location: no clear change, on its list and its page.
    page.goto(url + "/locations/ber/actions")
    assert page.locator("table.actions .verdict").first.inner_text().startswith(
        "No clear change: +0.0 points (-6.7 to 6.7)")
    assert serious(page) == []
    page.get_by_role("link", name="Quiet-zone signs").click()
    assert page.locator("p.verdict-text").inner_text() == effects["signs"]["summary"]
    assert "not a guarantee" in page.locator("main").inner_text()
    assert serious(page) == []

    # The form alone (what an alert's "Record what was done" opens), checked too.
    page.goto(url + "/locations/ams/actions/new")
    assert serious(page) == []

    # The check itself finds what it should (an image without a text alternative).
    probe = context.new_page()
    probe.set_content('<html lang="en"><head><title>Probe</title></head><body><main>'
                      '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body>'
                      "</html>")
    assert [rule for rule, _ in serious(probe)] == ["image-alt"]

    context.close()
    assert errors == [], errors  # e.g. a CSP violation
    outside = [u for u in requested if urlsplit(u).hostname != "127.0.0.1"]
    assert requested and outside == []
