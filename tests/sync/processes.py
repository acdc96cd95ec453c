"""Real processes for the end-to-end sync tests: a `hub serve` and a `kiosk run --simulate`,
both on 127.0.0.1, set up only through their command lines, as an operator would."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from tests.support import free_port, wait_until

BIN = Path(sys.executable).parent
HUB = str(BIN / "hub")
KIOSK = str(BIN / "kiosk")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "KIOSK_"))}
    env.update(extra)
    return env


class HubProcess:
    """`hub serve` on a fixed port over a temp database; stop and start it again at will."""

    def __init__(self, tmp_path, location="ams", timezone="Europe/Amsterdam"):
        self.dir = tmp_path
        self.db = tmp_path / "hub.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "hub.log"
        self.process = None
        self.location = location
        self.cli("init-db")
        self.cli("location", "add", location, "--name", location.upper(), "--timezone", timezone)
        self.cli("user", "add", "reader", "--password-stdin", input="reader password 1\n")
        self.api_token = self.cli("api-token", "add", "reader").strip()

    def cli(self, *args, input=None):
        result = subprocess.run([HUB, "--db", str(self.db), *args], input=input,
                                capture_output=True, text=True, timeout=60, env=_env(),
                                cwd=self.dir)
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    def add_device(self, device_id):
        """Register *device_id* at the location; its token."""
        return self.cli("device", "add", device_id, "--location", self.location).strip()

    def start(self, workers=2):
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [HUB, "--db", str(self.db), "serve", "--port", str(self.port),
                 "--workers", str(workers)],
                stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=self.dir,
            )
        wait_until(lambda: self.healthy() or self.process.poll() is not None, timeout=30,
                   message="hub serve to answer /healthz")
        assert self.process.poll() is None, self.log.read_text()
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def healthy(self):
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def presses(self, first="2000-01-01", last="2100-12-31", device=None):
        """Every press the hub holds for the location, through the read API."""
        rows, after = [], None
        while True:
            params = {"location": self.location, "from": first, "to": last, "limit": 10000,
                      "include_misuse": 1}
            if device:
                params["device"] = device
            if after:
                params["after"] = after
            response = requests.get(self.url + "/api/v1/presses", params=params, timeout=30,
                                    headers={"Authorization": f"Bearer {self.api_token}"})
            assert response.status_code == 200, response.text
            page = response.json()
            rows.extend(page["presses"])
            after = page["next"]
            if not after:
                return rows


    def hourly(self, began, ended, timezone="Europe/Amsterdam"):
        """The hour rows of the location for the local dates from *began* to *ended*."""
        zone = ZoneInfo(timezone)
        params = {"from": began.astimezone(zone).date().isoformat(),
                  "to": ended.astimezone(zone).date().isoformat(), "include_misuse": 1}
        response = requests.get(f"{self.url}/api/v1/locations/{self.location}/hourly",
                                params=params, timeout=30,
                                headers={"Authorization": f"Bearer {self.api_token}"})
        assert response.status_code == 200, response.text
        return response.json()["hours"]


class KioskProcess:
    """`kiosk run --simulate RATE` with its own config and data_dir; kill -9 and restart."""

    def __init__(self, tmp_path, device_id, hub_url, token, sync_interval_s=0.5,
                 extra_env=None):
        self.dir = tmp_path / device_id
        self.data_dir = self.dir / "data"
        self.data_dir.mkdir(parents=True)
        self.config = self.dir / "kiosk.toml"
        (self.dir / "token").write_text(token + "\n")
        self.config.write_text(
            f'device_id = "{device_id}"\n'
            f'hub_url = "{hub_url}"\n'
            f'token_file = "{self.dir / "token"}"\n'
            f'data_dir = "{self.data_dir}"\n'
            "lockout_s = 0.0\n"
            f"sync_interval_s = {sync_interval_s}\n"
            "[buttons]\nvery_unhappy = 5\nunhappy = 6\nhappy = 13\nvery_happy = 19\n"
        )
        self.log = self.dir / "kiosk.log"
        self.env = _env(**(extra_env or {}))
        self.process = None
        self.wrapper = []  # a command that runs the daemon, e.g. in its own mount namespace

    def start(self, rate):
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [*self.wrapper, KIOSK, "run", "--config", str(self.config), "--simulate",
                 str(rate)],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.dir,
            )
        return self

    def kill(self):
        """kill -9: no flush, no goodbye, as when the power goes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        code = self.process.returncode if self.process is not None else 0
        self.process = None
        return code

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def status(self):
        result = subprocess.run([KIOSK, "status", "--config", str(self.config), "--json"],
                                capture_output=True, text=True, timeout=30, env=self.env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
