"""Pauses survived by real processes: SIGSTOP for 1-5 s, then SIGCONT, as a debugger,
`kill -STOP`, a frozen VM or container, or a laptop kiosk that sleeps would do.

A paused process loses no time of its own: after SIGCONT every timeout it was waiting on has
passed at once. Reduced in `make test`; full sizes in `make faults` (FAULTS_FULL=1). Each test
ends with the final invariant of tests/faults/helpers.py and records its figures.
"""

import random
import signal
import threading
import time

import pytest
import requests

from tests.faults.figures import record, scale
from tests.faults.helpers import check_invariant, descendants, hub_seqs, signal_all, track_kiosk
from tests.support import wait_until
from tests.sync.processes import KioskProcess

pytestmark = pytest.mark.slow
STORM = 1200  # presses a minute, the most --simulate allows
WORKER_TIMEOUT_S = 30  # gunicorn's default; `hub serve` keeps it

def _kiosk(tmp_path, hub, device_id):
    kiosk = KioskProcess(tmp_path, device_id, hub.url, hub.add_device(device_id),
                         sync_interval_s=0.3)
    return track_kiosk(kiosk)


def _pause(pids, seconds, rand):
    """SIGSTOP every pid, hold the pause, SIGCONT them in a random order."""
    signal_all(pids, signal.SIGSTOP)
    time.sleep(seconds)  # the pause itself
    signal_all(rand.sample(pids, len(pids)), signal.SIGCONT)


def _grows(count):
    """Wait until *count()* is higher than it is now: presses under way."""
    before = count()
    wait_until(lambda: count() > before, timeout=30, message="presses under way")


def test_kiosk_paused_during_a_press_storm_and_sync(hub, tmp_path):
    """The kiosk is paused for 1-5 s, again and again, while it stores a storm and syncs it:
    it goes on each time, SIGTERM then stops it within 10 s with exit 0, and every press it
    recorded is on the hub once."""
    hub.start()
    kiosk = _kiosk(tmp_path, hub, "kiosk-1")
    kiosk.start(rate=STORM)
    wait_until(lambda: " ready: " in kiosk.log.read_text(), timeout=30,
               message="the kiosk to start")
    rand = random.Random(22)
    pauses = scale(3, 20)
    paused_s = 0.0
    started = time.monotonic()
    for _ in range(pauses):
        _grows(lambda: len(hub_seqs(hub, "kiosk-1")))  # syncing as well as pressing
        time.sleep(rand.uniform(0, 0.3))  # at a random point of the storm and its sync
        length = rand.uniform(1, 5)
        _pause([kiosk.process.pid], length, rand)
        paused_s += length
        assert kiosk.alive(), kiosk.log.read_text()[-2000:]
    stopping = time.monotonic()
    kiosk.process.send_signal(signal.SIGTERM)
    assert kiosk.process.wait(timeout=10) == 0
    stop_s = time.monotonic() - stopping
    log = kiosk.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert log.count(" received") == log.count("SIGTERM received") == 1
    figures = check_invariant(hub, [kiosk], tmp_path)
    record("kiosk", "SIGSTOP 1-5 s then SIGCONT during a press storm and sync",
           faults=pauses, seconds=round(time.monotonic() - started, 1), **figures,
           note=f"{pauses} pauses, {paused_s:.0f} s paused in all; SIGTERM afterwards: "
                f"exit 0 in {stop_s:.1f} s")


def test_hub_serve_paused_under_ingest(hub, tmp_path):
    """`hub serve`, master and workers at once, is paused for 1-5 s again and again while two
    kiosks storm and a probe posts batches of its own: no worker is killed for it, every
    batch answered 200 is stored, the hub answers after each pause and stops with exit 0.
    `make faults` adds one pause longer than the worker timeout (a frozen VM): the master
    then takes its workers for hung and replaces them, which costs the requests in flight
    a retry and nothing else."""
    from tests.hub.helpers import batch, press

    hub.start()
    probe_token = hub.add_device("probe")
    kiosks = [_kiosk(tmp_path, hub, f"kiosk-{n}") for n in (1, 2)]
    for kiosk in kiosks:
        kiosk.start(rate=STORM)
    answered, server_errors, tried = [], [], []
    stop = threading.Event()

    def probe():  # one press a batch, resent until it is answered 200, as a kiosk does
        seq = 1
        while not stop.is_set():
            tried.append(seq)
            try:
                response = requests.post(
                    hub.url + "/api/v1/presses", json=batch([press(seq)], device_id="probe"),
                    headers={"Authorization": f"Bearer {probe_token}"}, timeout=(5, 30))
            except requests.RequestException:
                stop.wait(0.1)
                continue
            if response.status_code >= 500:
                server_errors.append(response.status_code)
            if response.status_code == 200:
                body = response.json()
                assert body["inserted"] + body["duplicates"] == 1, body
                answered.append(seq)
                seq += 1
            stop.wait(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    rand = random.Random(23)
    pauses, long_pauses = scale(3, 20), scale(0, 1)
    paused_s = 0.0
    started = time.monotonic()
    prober.start()
    try:
        for _ in range(pauses):
            _grows(lambda: len(hub_seqs(hub, "kiosk-1")) + len(hub_seqs(hub, "kiosk-2")))
            time.sleep(rand.uniform(0, 0.3))
            pids = [hub.process.pid, *descendants(hub.process.pid)]
            length = rand.uniform(1, 5)
            _pause(pids, length, rand)
            paused_s += length
            wait_until(hub.healthy, timeout=10, message="the hub to answer after the pause")
        for _ in range(long_pauses):
            pids = [hub.process.pid, *descendants(hub.process.pid)]
            _pause(pids, WORKER_TIMEOUT_S + 5, rand)
            paused_s += WORKER_TIMEOUT_S + 5
            wait_until(hub.healthy, timeout=30, message="the hub to answer after a long pause")
        answers = len(answered)
        wait_until(lambda: len(answered) > answers, timeout=30,
                   message="the probe answered after the last pause")
    finally:
        stop.set()
        prober.join(timeout=40)
    for kiosk in kiosks:
        assert kiosk.stop() == 0
    figures = check_invariant(hub, kiosks, tmp_path)
    stored = hub_seqs(hub, "probe")
    assert set(answered) <= set(stored) and len(stored) == len(set(stored))
    assert server_errors == []
    hub.process.send_signal(signal.SIGTERM)
    assert hub.process.wait(timeout=30) == 0
    hub.process = None
    log = hub.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    timeouts = log.count("WORKER TIMEOUT")
    assert timeouts <= 2 * long_pauses, log[-3000:]  # none after a pause shorter than it
    record("hub", "SIGSTOP then SIGCONT of hub serve (master and workers) under ingest",
           faults=pauses + long_pauses, inputs=len(tried), server_errors=len(server_errors),
           seconds=round(time.monotonic() - started, 1), **figures,
           note=f"{pauses} pauses of 1-5 s and {long_pauses} of {WORKER_TIMEOUT_S + 5} s, "
                f"{paused_s:.0f} s paused in all; probe: {len(answered)} batches answered "
                f"200, each stored once; {timeouts} workers taken for hung after the long "
                "pause and replaced")
