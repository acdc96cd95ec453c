"""/healthz tells a load balancer the truth when the hub's disk is full: a real `hub serve`
with its database on a tmpfs that fills up while a kiosk storms into it (issue 12)."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.figures import record, scale
from tests.faults.helpers import check_invariant
from tests.support import skip_unless_private_tmpfs
from tests.sync.processes import HubProcess, KioskProcess

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

OK = [200, {"status": "ok"}]


def test_healthz_is_503_degraded_while_the_disk_is_full_and_200_once_freed(tmp_path):
    """The database's disk fills up during a press storm (a 32 MiB tmpfs in a private mount
    namespace, so root only): /healthz answers 503 {"status": "degraded", "write": ...} on
    every worker while it is full, and still when half a MiB is free (a tiny commit works
    there, a large batch may not), 200 {"status": "ok"} once space is freed; the hub ends up
    with every press once."""
    skip_unless_private_tmpfs(tmp_path)
    hub = HubProcess(tmp_path)  # set up here, served inside the namespace
    kiosk = KioskProcess(tmp_path, "kiosk-1", hub.url, hub.add_device("kiosk-1"),
                         sync_interval_s=0.3)
    full_s = scale(1, 5)
    out = tmp_path / "after.db"
    started = time.monotonic()
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-m",
         "tests.faults.full_disk_hub", str(hub.db), str(tmp_path / "disk"), str(hub.port),
         str(kiosk.config), str(kiosk.log), str(full_s), str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=kiosk.env)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["before"] == [OK] * len(result["before"])
    for status, body in result["full"] + result["nearly_full"]:
        assert status == 503 and body["status"] == "degraded", (status, body)
        assert set(body) == {"status", "write"} and "full" in body["write"], body
    assert result["freed"] == [OK] * len(result["freed"])
    assert result["storm_exit"] == 0 and result["drain_exit"] == 0
    hub.db = out  # the database went with the namespace; this is its copy, made at the end
    figures = check_invariant(hub, [kiosk], tmp_path,
                              recorded={"kiosk-1": result["recorded_total"]})
    assert "Traceback" not in (tmp_path / "hub.log").read_text()
    # The kiosk was told why its batches were refused, not "busy".
    assert "HTTP 503 unavailable: the hub's disk is full; retry later" in kiosk.log.read_text()
    full = sorted({body["write"] for _, body in result["full"]})
    nearly = result["nearly_full"][0][1]["write"]
    record("hub", "database disk full during ingest (tmpfs): /healthz 503, then 200", faults=2,
           inputs=sum(len(result[k]) for k in ("full", "nearly_full", "freed")),
           seconds=round(time.monotonic() - started, 1), **figures,
           note=f"full for {full_s} s, /healthz said: {'; '.join(full)}; with 0.5 MiB free: "
                f"{nearly}")
