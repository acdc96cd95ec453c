"""Small helpers shared by the test suites: polling with a deadline, free ports."""

import socket
import time


def wait_until(predicate, timeout=10.0, interval=0.02, message="condition"):
    """Poll *predicate* until it returns a truthy value; fail after *timeout* seconds.

    Tests wait for conditions this way, never with a bare sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
