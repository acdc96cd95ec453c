"""The sync loop against a real `hub serve` (gunicorn) that is stopped and started again, through
the fault proxy switching between faults, while presses keep being added: at the end the hub
holds each press exactly once."""

import os
import random
import threading

import pytest

from kiosk.sync import SyncLoop
from tests.faultproxy import FaultProxy
from tests.support import wait_until
from tests.sync.fakes import Identity, make_press
from tests.sync.processes import HubProcess

PRESSES = int(os.environ.get("SYNC_FAULT_PRESSES", "3000"))


class LockedBuffer:
    """MemoryBuffer's interface, safe to fill from the test while the loop's thread reads."""

    def __init__(self):
        from tests.sync.fakes import MemoryBuffer

        self.inner = MemoryBuffer()
        self.lock = threading.Lock()

    def __getattr__(self, name):
        method = getattr(self.inner, name)
        if not callable(method):
            return method

        def locked(*args, **kwargs):
            with self.lock:
                return method(*args, **kwargs)

        return locked


@pytest.mark.slow
def test_every_press_arrives_once_through_hub_restarts_and_faults(tmp_path):
    hub = HubProcess(tmp_path)
    token = hub.add_device("kiosk-1")
    hub.start()
    buffer = LockedBuffer()
    stop = threading.Event()
    rand = random.Random(PRESSES)
    with FaultProxy(hub.port, delay_s=0.3, retry_after=1) as proxy:
        config = _config(proxy.url, token)
        loop = SyncLoop(config, stop, buffer=buffer, identity=Identity(), rand=rand,
                        timeout=(1.0, 2.0))
        loop.backoff.base, loop.backoff.cap = 0.05, 0.5  # short test; policy tested elsewhere
        thread = threading.Thread(target=loop.run, daemon=True)
        thread.start()
        try:
            faults = ["cut", "503", "drop", "delay", "truncate", "reset", "hub-down", "random"]
            seq = 0
            chunk = max(1, PRESSES // (2 * len(faults)))
            for round_ in range(2 * len(faults)):
                fault = faults[round_ % len(faults)]
                if fault == "hub-down":
                    hub.stop()
                elif fault == "random":
                    proxy.randomly({"pass": 0.5, "cut": 0.2, "503": 0.1, "drop": 0.1,
                                    "delay": 0.1}, seed=round_)
                else:
                    proxy.set(fault)
                used = sum(proxy.counts.values())
                for _ in range(chunk):
                    seq += 1
                    buffer.add(seq)
                wait_until(lambda used=used: sum(proxy.counts.values()) > used + 1, timeout=30,
                           message=f"the kiosk to try through the {fault} fault")
                if fault == "hub-down":
                    wait_until(lambda: loop.failure is not None, timeout=30,
                               message="the loop to notice the hub is down")
                    hub.start()
                proxy.set("pass")
            while seq < PRESSES:
                seq += 1
                buffer.add(seq)
            wait_until(lambda: len(buffer.synced) == PRESSES, timeout=120,
                       message=f"all {PRESSES} presses synced")
        finally:
            stop.set()
            thread.join(timeout=10)
            hub.stop()
    assert not thread.is_alive()
    assert proxy.counts["cut"] >= 1 and proxy.counts["503"] >= 1
    hub.start()
    try:
        stored = hub.presses(device="kiosk-1")
    finally:
        hub.stop()
    seqs = sorted(p["seq"] for p in stored)
    assert seqs == list(range(1, PRESSES + 1))  # no gaps, no duplicates
    sent = {p["seq"]: (p["id"], p["mood"]) for p in
            (make_press(s) for s in range(1, PRESSES + 1))}
    assert {p["seq"]: (p["id"], p["mood"]) for p in stored} == sent
    assert not buffer.parked()


def _config(url, token):
    from tests.sync.fakes import config

    return config(url, token=token, sync_interval_s=0.2, batch_size=100)
