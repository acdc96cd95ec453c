"""A real full disk (a 1 MiB tmpfs in a private mount namespace): the press is held in
memory and retried, its LED stays dark, the daemon lives, and it is stored once there is room."""

import json
import subprocess
import sys
from pathlib import Path

from tests.support import skip_unless_private_tmpfs

ROOT = Path(__file__).resolve().parents[2]


def test_a_full_disk_holds_the_press_until_there_is_room(tmp_path):
    skip_unless_private_tmpfs(tmp_path)
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                           "-m", "tests.kiosk.disk_full", str(tmp_path / "disk")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["held_in_memory"] == 1 and result["alive"] is True
    assert result["lit_while_full"] == 1  # only press 1 was thanked while the disk was full
    assert result["lit_with"] == [1, 2]  # press 2 lit its LED once it was in the file
    assert [row[:2] for row in result["rows"]] == [[1, 3], [2, 3]]
    full = [line for line in result["lines"] if "disk is full" in line]
    assert len(full) == 1  # one line, not one per retry
    assert full[0].startswith("cannot store press: database or disk is full; 1 press(es) kept")
    assert "press buffer writable again" in result["lines"]
