"""A real `kiosk run` whose data_dir fills up, for test_faults.py: run inside
`unshare --mount --propagation private` as root (the tmpfs is this namespace's alone).

    python -m tests.faults.full_disk_kiosk CONFIG DATA_DIR LOG FULL_S

Mounts a small tmpfs at DATA_DIR, starts `kiosk run --simulate` (a press storm) syncing to
the hub of CONFIG, fills the disk, keeps it full for FULL_S seconds of the storm, frees it,
lets the storm go on, stops the kiosk, starts it again without pressing until the hub has
every press, and prints JSON: the kiosk's recorded_total and the log lines that matter. The
buffer goes with the namespace, so everything is checked before this exits.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import fill_disk, wait_until

KIOSK = str(Path(sys.executable).with_name("kiosk"))
STORM = 1200


def status(config):
    result = subprocess.run([KIOSK, "status", "--config", config, "--json"],
                            capture_output=True, text=True, timeout=30)
    return json.loads(result.stdout) if result.returncode == 0 else None


def recorded(config):
    return (status(config) or {}).get("recorded_total", 0)


def start(config, log, rate):
    with open(log, "a") as out:
        return subprocess.Popen([KIOSK, "run", "--config", config, "--simulate", str(rate)],
                                stdout=out, stderr=subprocess.STDOUT)


def stop(process):
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def main(config, data_dir, log, full_s):
    data_dir, log = Path(data_dir), Path(log)
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(data_dir)],
                   check=True)
    result = {}
    kiosk = start(config, log, STORM)
    try:
        wait_until(lambda: " ready: " in log.read_text(), timeout=30, message="kiosk ready")
        wait_until(lambda: recorded(config) >= 10, timeout=30, message="presses stored")
        filler = fill_disk(data_dir)
        wait_until(lambda: "disk is full" in log.read_text(), timeout=30,
                   message="the disk-full line")
        result["recorded_when_full"] = recorded(config)
        time.sleep(full_s)  # the storm goes on against a full disk for this long
        result["recorded_while_full"] = recorded(config) - result["recorded_when_full"]
        filler.unlink()
        wait_until(lambda: "press buffer writable again" in log.read_text(), timeout=30,
                   message="the buffer writable again")
        freed = recorded(config)
        result["held"] = freed - result["recorded_when_full"] - result["recorded_while_full"]
        wait_until(lambda: recorded(config) >= freed + 10, timeout=30,
                   message="presses after the disk was freed")
        result["storm_exit"] = stop(kiosk)
        kiosk = start(config, log, 0)
        wait_until(lambda: (status(config) or {}).get("queued") == 0
                   and status(config)["last_sync_error"] is None, timeout=120, interval=0.3,
                   message="every press synced")
        result["drain_exit"] = stop(kiosk)
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
    result["recorded_total"] = status(config)["recorded_total"]
    lines = log.read_text().splitlines()
    result["full_lines"] = [line for line in lines if "disk is full" in line]
    result["tracebacks"] = sum("Traceback" in line for line in lines)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
