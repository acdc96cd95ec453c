"""Figures of a reliability run, gathered from the tests that make them.

`make faults` sets FAULTS_FULL=1 (full sizes) and FAULTS_REPORT=<file>; every test that
injects faults or tries bad input calls `record(...)`, one JSON line per call, and
`python -m tests.faults.report` sums them into docs/reliability.md. Without FAULTS_REPORT
(plain `make test`) `record` does nothing.
"""

import json
import os
import time

FULL = os.environ.get("FAULTS_FULL") == "1"


def scale(reduced, full):
    """*full* in `make faults`, *reduced* in `make test`."""
    return full if FULL else reduced


def record(area, what, *, faults=0, inputs=0, server_errors=0, lost=0, duplicates=0,
           presses=0, seconds=None, note=""):
    """One row of the reliability table: *faults* injected, *inputs* tried, 5xx seen,
    presses lost and counted twice, presses checked end to end."""
    path = os.environ.get("FAULTS_REPORT")
    if not path:
        return
    row = {"area": area, "what": what, "faults": faults, "inputs": inputs,
           "server_errors": server_errors, "lost": lost, "duplicates": duplicates,
           "presses": presses, "seconds": seconds, "note": note, "at": time.time()}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
