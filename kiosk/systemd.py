"""A tiny sd_notify: READY, WATCHDOG, STOPPING to $NOTIFY_SOCKET; a no-op outside systemd."""

import os
import socket
import time


class Notifier:
    """Tells systemd the truth about the daemon (Type=notify, WatchdogSec=)."""

    def __init__(self, environ=os.environ):
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self.address = address or None
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        wanted = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        # Pet the watchdog at half its period, as sd_watchdog_enabled(3) advises.
        self.watchdog_interval = int(usec) / 2e6 if wanted and self.address else None
        self._last_pet = float("-inf")

    def notify(self, state):
        """Send *state* (e.g. "READY=1"); False outside systemd or if it failed."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(self.address)
                s.sendall(state.encode())
            return True
        except OSError:
            return False

    def ready(self, status=None):
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def stopping(self):
        return self.notify("STOPPING=1")

    def watchdog_due_in(self, now=None):
        """Seconds until the next WATCHDOG=1 is due; None without a watchdog."""
        if self.watchdog_interval is None:
            return None
        now = time.monotonic() if now is None else now
        return max(0.0, self._last_pet + self.watchdog_interval - now)

    def watchdog(self, now=None):
        """WATCHDOG=1 if half the watchdog period has passed since the last one."""
        if self.watchdog_interval is None:
            return False
        now = time.monotonic() if now is None else now
        if now - self._last_pet < self.watchdog_interval:
            return False
        self._last_pet = now
        return self.notify("WATCHDOG=1")
