"""`hub serve` for real: gunicorn on 127.0.0.1, a kiosk's batch over HTTP, SIGTERM."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hub.store import registry
from tests.hub.helpers import batch, press
from tests.support import free_port, wait_until

HUB = str(Path(sys.executable).with_name("hub"))


def healthy(url):
    try:
        return requests.get(url + "/healthz", timeout=1).json() == {"status": "ok"}
    except requests.RequestException:
        return False


@pytest.mark.slow
def test_hub_serve_answers_and_stops_cleanly_on_sigterm(site, db_path, tmp_path):
    site.location("ams")
    kiosk = site.device("kiosk-1", "ams")
    reader = site.reader()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [HUB, "--db", str(db_path), "serve", "--port", str(port), "--workers", "2"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )
    try:
        wait_until(lambda: healthy(url) or server.poll() is not None, timeout=30,
                   message="hub serve to answer /healthz")
        assert server.poll() is None, log_path.read_text()

        body = batch([press(1, mood=4, pressed_at="2026-11-22T10:15:00Z"),
                      press(2, mood=3, pressed_at="2026-11-22T10:20:00Z")])
        response = requests.post(url + "/api/v1/presses", json=body, headers=kiosk, timeout=5)
        assert response.json() == {"inserted": 2, "duplicates": 0,
                                   "server_time": response.json()["server_time"],
                                   "highest_seq": 2, "held_through": 2}
        response = requests.post(url + "/api/v1/presses", json=body, headers=kiosk, timeout=5)
        assert response.json()["inserted"] == 0 and response.json()["duplicates"] == 2

        response = requests.get(url + "/api/v1/locations/ams/hourly", headers=reader,
                                params={"from": "2026-11-22", "to": "2026-11-22"}, timeout=5)
        assert response.json()["hours"][0]["happy_index"] == 83.3
        response = requests.post(url + "/api/v1/presses", data="x", headers=kiosk, timeout=5)
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "unsupported_media_type"
        metrics = requests.get(url + "/metrics", timeout=5).text
        assert "hub_presses_duplicate_total 2" in metrics
    finally:
        server.send_signal(signal.SIGTERM)
        returncode = server.wait(timeout=20)
    output = log_path.read_text()
    assert returncode == 0, output
    assert "Traceback" not in output
    assert registry.secret_key(site.db)  # the server used the key init-db generated


def test_hub_serve_refuses_an_uninitialised_database(tmp_path):
    result = subprocess.run([HUB, "--db", str(tmp_path / "none.db"), "serve"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "hub init-db" in result.stderr
