"""Configs and presses for the kiosk tests."""

from datetime import UTC, datetime, timedelta

from kiosk.store import Press

BOOT = "0d5a3c1e-7b2f-4c88-9a1d-2e3f4a5b6c7d"
T0 = datetime(2026, 11, 22, 10, 15, 3, 120000, tzinfo=UTC)
BUTTONS = '[buttons]\nvery_unhappy = 5\nunhappy = 6\nhappy = 13\nvery_happy = 19\n'


def write_config(directory, body="", buttons=BUTTONS, leds="", data_dir=None):
    """A kiosk.toml in *directory* (data_dir inside it unless given); its path."""
    path = directory / "kiosk.toml"
    data_dir = data_dir or directory / "data"
    path.write_text(f'device_id = "kiosk-test-1"\ndata_dir = "{data_dir}"\n{body}\n'
                    f'{buttons}{leds}')
    return path


def press(n=0, mood=3, misuse=False):
    return Press(mood=mood, pressed_at=T0 + timedelta(seconds=n), uptime_ms=10_000 + 1000 * n,
                 boot_id=BOOT, clock_synced=True, misuse=misuse)
