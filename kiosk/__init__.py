"""The kiosk daemon: four buttons on a Raspberry Pi, every press kept and sent to the hub."""

__version__ = "0.1.0"
