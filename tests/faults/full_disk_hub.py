"""A real `hub serve` whose database's disk fills up under ingest, for
test_healthz_disk_full.py: run inside `unshare --mount --propagation private` as root (the
tmpfs is this namespace's alone).

    python -m tests.faults.full_disk_hub HUB_DB DISK PORT KIOSK_CONFIG KIOSK_LOG FULL_S OUT

Mounts a 32 MiB tmpfs at DISK, copies the closed database HUB_DB there and serves it on PORT
while the kiosk of KIOSK_CONFIG storms into it; fills the disk, asks /healthz, keeps the disk
full for FULL_S seconds of the storm, frees half a MiB and asks again, frees it all and asks
again, drains the kiosk, copies
the database out to OUT with `hub backup` (the tmpfs goes with the namespace) and prints JSON:
the answers of /healthz and the kiosk's recorded_total.
"""

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

from hub.store.health import MIN_FREE_BYTES
from tests.faults.full_disk_kiosk import recorded, start, status, stop
from tests.support import fill_disk, wait_until
from tests.sync.processes import HUB, _env

STORM = 1200
ANSWERS = 6  # enough for both gunicorn workers to answer


def health(url):
    """[status, body] of *ANSWERS* GETs of /healthz."""
    answers = []
    for _ in range(ANSWERS):
        response = requests.get(url + "/healthz", timeout=30)
        answers.append([response.status_code, response.json()])
    return answers


def stored(db):
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM presses").fetchone()[0]
    finally:
        conn.close()


def main(hub_db, disk, port, config, log, full_s, out):
    disk, log, out = Path(disk), Path(log), Path(out)
    disk.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(disk)], check=True)
    assert not Path(hub_db + "-wal").exists()  # closed: the file alone is the database
    db = disk / "hub.db"
    shutil.copyfile(hub_db, db)
    url = f"http://127.0.0.1:{port}"
    with open(out.with_name("hub.log"), "a") as hub_log:
        hub = subprocess.Popen([HUB, "--db", str(db), "serve", "--port", port, "--workers", "2"],
                               stdout=hub_log, stderr=subprocess.STDOUT, env=_env())
    result = {}
    kiosk = None
    try:
        wait_until(lambda: _answers(url), timeout=30, message="hub serve to answer")
        result["before"] = health(url)
        kiosk = start(config, log, STORM)
        wait_until(lambda: stored(db) >= 10, timeout=30, message="presses stored")
        filler = fill_disk(disk)
        result["full"] = health(url)
        time.sleep(full_s)  # the storm goes on against a full disk for this long
        result["stored_while_full"] = stored(db)
        # Nearly full: a tiny commit still finds room, a batch of 1000 presses may not.
        with open(filler, "r+b") as f:
            f.truncate(filler.stat().st_size - MIN_FREE_BYTES // 2)
        result["nearly_full"] = health(url)
        filler.unlink()
        result["freed"] = health(url)
        freed = stored(db)
        wait_until(lambda: stored(db) >= freed + 10, timeout=60,
                   message="presses stored after the disk was freed")
        result["storm_exit"] = stop(kiosk)
        seen = log.stat().st_size
        kiosk = start(config, log, 0)
        # SIGTERM before the daemon is up would end it by the default action, not a stop.
        wait_until(lambda: " ready: " in log.read_text()[seen:], timeout=30,
                   message="the kiosk to start again")
        wait_until(lambda: (status(config) or {}).get("queued") == 0
                   and status(config)["last_sync_error"] is None, timeout=120, interval=0.3,
                   message="every press synced")
        result["drain_exit"] = stop(kiosk)
        result["recorded_total"] = recorded(config)
        subprocess.run([HUB, "--db", str(db), "backup", str(out)], check=True,
                       capture_output=True, env=_env(), timeout=60)
    finally:
        if kiosk is not None and kiosk.poll() is None:
            kiosk.kill()
        hub.send_signal(signal.SIGTERM)
        hub.wait(timeout=30)
    print(json.dumps(result))


def _answers(url):
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]),
         sys.argv[7])
