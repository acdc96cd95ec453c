"""Take the README's screenshots from the demo: `make screenshots`.

Seeds a demo database (the same as `make demo`), runs `hub serve` on a free loopback port,
logs in with Debian's Chromium and saves the overview and a location page under
docs/images/.
"""

import json
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
    try:
        state = demo.seed(work / "hub.db")
        (work / "demo.json").write_text(json.dumps(state))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        hub = subprocess.Popen([sys.executable, "-m", "hub", "--db", str(work / "hub.db"),
                                "serve", "--port", str(port), "--workers", "1"])
        try:
            wait_until(lambda: _healthy(url), timeout=30, message="hub serve")
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
                browser.close()
        finally:
            hub.send_signal(signal.SIGTERM)
            hub.wait(timeout=20)
    finally:
        shutil.rmtree(work)
    print(f"wrote {out / 'overview.png'} and {out / 'location.png'}")


if __name__ == "__main__":
    main()
