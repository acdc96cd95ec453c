"""What every fault test on real processes shares: a `hub serve` of its own and, whatever
happens in the test, no process left behind."""

import signal

import pytest

from tests.faults.helpers import descendants, signal_all
from tests.sync.processes import HubProcess

# The KioskProcesses a test started (tests/faults/helpers.py `track_kiosk`); killed after each
# test, so a failed one leaves no kiosk pressing into the next.
STARTED = []


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(tmp_path)
    yield hub
    while STARTED:
        kiosk = STARTED.pop()
        if kiosk.alive():
            kiosk.process.send_signal(signal.SIGCONT)  # a paused kiosk gets on with dying
        kiosk.kill()
    if hub.process is not None and hub.process.poll() is None:
        signal_all([hub.process.pid, *descendants(hub.process.pid)], signal.SIGCONT)
        hub.stop()
