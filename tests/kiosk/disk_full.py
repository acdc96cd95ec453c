"""A disk that really fills up, for test_disk_full.py: run inside `unshare --mount` as root.

Mounts a 1 MiB tmpfs at ARGV[1], runs the real Daemon on mock pins with its data_dir there,
fills the disk between two presses, frees it again, and prints what happened as JSON.
"""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from kiosk.config import load_config
from kiosk.daemon import Daemon
from kiosk.simulate import press
from kiosk.systemd import Notifier
from tests.kiosk.conftest import THANKS, FakeClock, WatchedPin, rows
from tests.kiosk.helpers import write_config
from tests.support import fill_disk, wait_until


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def seen(self, text):
        return any(text in line for line in self.lines)


def main(disk):
    disk = Path(disk)
    disk.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], check=True)
    lines = Lines()
    logging.getLogger("kiosk").addHandler(lines)
    logging.getLogger("kiosk").setLevel(logging.INFO)
    config = load_config(write_config(disk, "lockout_s = 0.0", leds=f"[leds]\nthanks = {THANKS}\n"))
    factory = MockFactory()
    led = factory.pin(THANKS, pin_class=WatchedPin)
    led.lit_with, led.on_high = [], lambda: len(rows(config.data_dir))
    clock = FakeClock()
    daemon = Daemon(config, factory, clock=clock, notifier=Notifier({}))
    daemon.start()
    result = {}
    try:
        wait_until(daemon.store_up.is_set, message="the store")
        happy = daemon.hardware.buttons["happy"]
        press(happy)
        wait_until(lambda: daemon.stored == 1 and not led.state, message="press 1 thanked")
        filler = fill_disk(disk)
        clock.advance(0.5)
        press(happy)
        wait_until(lambda: lines.seen("database or disk is full"), message="the disk full line")
        result["held_in_memory"] = len(daemon._waiting)
        result["alive"] = daemon._writer.is_alive()
        result["lit_while_full"] = len(led.lit_with)
        os.unlink(filler)
        wait_until(lambda: daemon.stored == 2, message="press 2 stored once there is room")
        wait_until(lambda: len(led.lit_with) == 2, message="press 2 thanked")
        result["lit_with"] = led.lit_with
    finally:
        daemon.stop()
    result["rows"] = rows(config.data_dir)
    result["lines"] = lines.lines
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
