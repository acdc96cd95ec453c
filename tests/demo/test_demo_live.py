"""`hub demo` live: the hub and simulated kiosks sync, and Ctrl-C stops every process."""

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.support import free_port, wait_until

pytestmark = pytest.mark.slow


def _processes_under(directory):
    out = subprocess.run(["pgrep", "-f", str(directory)], capture_output=True, text=True)
    return out.stdout.split()


def test_live_kiosks_sync_into_the_demo_hub_and_ctrl_c_stops_everything(tmp_path):
    demo_dir, port = tmp_path / "demo", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--dir", str(demo_dir), "--port", str(port),
         "--days", "2", "--rate", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = []
        wait_until(lambda: lines.append(proc.stdout.readline()) or "Ctrl-C" in lines[-1],
                   timeout=60, message="the demo to start")
        token = json.loads((demo_dir / "demo.json").read_text())["api_token"]

        def live_presses():
            answer = requests.get(
                f"http://127.0.0.1:{port}/api/v1/presses", timeout=5,
                headers={"Authorization": f"Bearer {token}"},
                params={"location": "blr-library", "from": "2000-01-01", "to": "2100-01-01",
                        "device": "blr-library-live"})
            return answer.json()["presses"]

        wait_until(live_presses, timeout=60, message="a press from the live kiosk")
        assert any(line.startswith("login:    demo / ") for line in lines)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        assert proc.wait(timeout=30) == 0
        assert "stopping" in proc.stdout.read()
        wait_until(lambda: not _processes_under(demo_dir), timeout=10,
                   message="hub serve and the kiosks to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_a_second_ctrl_c_while_stopping_still_leaves_nothing_running(tmp_path):
    demo_dir, port = tmp_path / "demo", free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--dir", str(demo_dir), "--port", str(port),
         "--days", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines = []
        wait_until(lambda: lines.append(proc.stdout.readline()) or "Ctrl-C" in lines[-1],
                   timeout=60, message="the demo to start")
        os.killpg(proc.pid, signal.SIGINT)
        wait_until(lambda: lines.append(proc.stdout.readline()) or "stopping" in lines[-1],
                   timeout=30, message="the demo to start stopping")
        os.killpg(proc.pid, signal.SIGINT)  # impatient: Ctrl-C again
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in proc.stdout.read()
        wait_until(lambda: not _processes_under(demo_dir), timeout=10,
                   message="hub serve and the kiosks to be gone")
        # The port is free again for the next `make demo`.
        import socket

        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
