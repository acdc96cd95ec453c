"""Take the README's screenshots from the demo: `make screenshots`.

Runs `hub demo` itself (the seeded database, `hub serve` and the three live simulated
kiosks, as `make demo` does) on a free loopback port, waits until every live kiosk has synced
presses, logs in with Debian's Chromium and saves the overview, a location page and an
action's effect page under docs/images/, then stops the demo with Ctrl-C (SIGINT) as a person would.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from hub import demo
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _healthy(url):
    import requests

    try:
        return requests.get(url + "/healthz", timeout=1).ok
    except requests.RequestException:
        return False


def main(out=ROOT / "docs" / "images"):
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hub = str(Path(sys.executable).with_name("hub"))
    log = (work / "demo.log").open("w")
    running = subprocess.Popen([hub, "demo", "--dir", str(work / "demo"), "--port", str(port),
                                "--rate", "30"], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        wait_until(lambda: (work / "demo" / "demo.json").is_file() and _healthy(url),
                   timeout=120, message="the demo's hub")
        state = json.loads((work / "demo" / "demo.json").read_text())
        wait_until(lambda: all(live for _, live in demo.check(url, state["api_token"]).values()),
                   timeout=120, interval=1, message="every live kiosk to sync")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/login")
            page.fill("input[name=username]", demo.DEMO_USER)
            page.fill("input[name=password]", state["password"])
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            page.screenshot(path=out / "overview.png", full_page=True)
            page.goto(url + "/locations/ams-security?period=30d")
            page.screenshot(path=out / "location.png", full_page=True)
            # The demo's first action: the airport's second scanner (docs/operator.md).
            page.goto(url + "/locations/ams-security/actions")
            page.get_by_role("link", name="Second scanner opened").first.click()
            page.wait_for_url("**/actions/*")
            page.screenshot(path=out / "action.png", full_page=True)
            browser.close()
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGINT)  # Ctrl-C to the demo and its children
            running.wait(timeout=60)
        log.close()
        shutil.rmtree(work)
    print(f"wrote {out / 'overview.png'}, {out / 'location.png'} and {out / 'action.png'}")


if __name__ == "__main__":
    main()
