"""kill -9 of `hub serve` while concurrent clients' batches are being group-committed: every
batch answered 200 is on disk after the restart, and nothing is stored twice.

Reduced in `make test`; full size in `make faults` (FAULTS_FULL=1).
"""

import random
import threading
import time
import uuid

import pytest
import requests

from tests.faults.figures import record, scale
from tests.faults.helpers import kill_hub, rollups_recomputed, rows
from tests.support import wait_until
from tests.sync.processes import HubProcess

pytestmark = pytest.mark.slow
BOOT = "0b5e4c1a-9d7f-4e2a-8c3b-6a1f2e3d4c5b"


class Client(threading.Thread):
    """A device posting 3-press batches with rising seqs as fast as the hub answers; a batch
    not answered 200 is sent again, as a kiosk would, until it is."""

    def __init__(self, url, device_id, token, stop):
        super().__init__(daemon=True)
        self.url, self.device_id, self.stop = url, device_id, stop
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.acknowledged = {}  # seq -> press id, answered 200
        self.answers = {"ok": 0, "failed": 0, "5xx": 0}

    def run(self):
        seq = 1
        while not self.stop.is_set():
            presses = [{"seq": s, "id": str(uuid.uuid4()), "mood": 1 + s % 4,
                        "pressed_at": "2026-11-22T10:15:03.120Z", "boot_id": BOOT,
                        "uptime_ms": 1000 * s, "clock_synced": True, "misuse": False}
                       for s in range(seq, seq + 3)]
            while not self.send(presses):
                if self.stop.wait(0.05):  # the hub is away: try again shortly
                    return
            seq += 3
        self.session.close()

    def send(self, presses):
        body = {"device_id": self.device_id, "boot_id": BOOT, "uptime_ms": 10**7,
                "presses": presses}
        try:
            response = self.session.post(self.url + "/api/v1/presses", json=body, timeout=10)
        except requests.RequestException:
            self.answers["failed"] += 1
            return False
        if response.status_code >= 500:
            self.answers["5xx"] += 1
            return False
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["inserted"] + answer["duplicates"] == 3
        self.answers["ok"] += 1
        self.acknowledged.update({p["seq"]: p["id"] for p in presses})
        return True


def test_sigkill_during_group_commits_loses_no_acknowledged_batch(tmp_path):
    hub = HubProcess(tmp_path)
    clients_n = scale(12, 32)
    kills = scale(3, 20)
    tokens = {f"c-{n}": hub.add_device(f"c-{n}") for n in range(clients_n)}
    hub.start()
    stop = threading.Event()
    clients = [Client(hub.url, device, token, stop) for device, token in tokens.items()]
    started = time.monotonic()
    rand = random.Random(7)
    try:
        for client in clients:
            client.start()
        for _ in range(kills):
            time.sleep(rand.uniform(0.3, 1.5))  # hold the storm for a while, then kill
            kill_hub(hub)
            hub.start()
        answered = [client.answers["ok"] for client in clients]
        wait_until(lambda: all(c.answers["ok"] > n for c, n in zip(clients, answered, strict=True)),
                   timeout=60, message="every client to be answered by the last hub")
    finally:
        stop.set()
        for client in clients:
            client.join(30)
    metrics = requests.get(hub.url + "/metrics", timeout=10).text
    hub.stop()
    figures = {"presses": 0, "lost": 0, "duplicates": 0}
    for client in clients:
        stored = dict(rows(hub.db, "SELECT seq, id FROM presses WHERE device_id = ?",
                           (client.device_id,)))
        acked = client.acknowledged
        figures["presses"] += len(acked)
        figures["lost"] += sum(1 for seq, press_id in acked.items()
                               if stored.get(seq) != press_id)
        # Stored but never answered 200 (the answer was lost in the kill): the client sent
        # that batch again with the same seqs and got them as duplicates, or stopped first.
        extra = set(stored) - set(acked)
        assert all(seq > max(acked, default=0) for seq in extra), (client.device_id, extra)
    assert figures["lost"] == 0, figures
    assert rows(hub.db, "SELECT count(*) FROM (SELECT device_id, id FROM presses"
                        " GROUP BY device_id, id HAVING count(*) > 1)") == [(0,)]
    stored_rollups, recomputed = rollups_recomputed(hub, tmp_path)
    assert stored_rollups == recomputed
    assert rows(hub.db, "PRAGMA integrity_check") == [("ok",)]
    counters = dict(line.split() for line in metrics.splitlines()
                    if line.startswith("hub_write_group"))
    per_commit = int(counters["hub_write_group_writes_total"]) / max(
        1, int(counters["hub_write_groups_total"]))
    assert per_commit > 1, counters  # the batches really were written together
    failed = sum(c.answers["failed"] + c.answers["5xx"] for c in clients)
    record("hub", "kill -9 of hub serve during group commits", faults=kills,
           seconds=time.monotonic() - started,
           note=f"{clients_n} concurrent clients, {per_commit:.1f} batches per commit, "
                f"{failed} requests cut by the kills and resent", **figures)
