"""Small helpers shared by the test suites: polling with a deadline, free ports, a full disk."""

import shutil
import socket
import subprocess
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


def skip_unless_private_tmpfs(directory):
    """Skip the test unless a tmpfs can be mounted in a private mount namespace here (root,
    and a container that lets us): what the real full-disk tests need."""
    import pytest

    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "mount", "-t",
                            "tmpfs", "-o", "size=64k", "tmpfs", str(directory)],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot mount a tmpfs in a mount namespace here (needs root)")


def fill_disk(directory):
    """Write a file in *directory* until its filesystem is full; the file's path."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler
