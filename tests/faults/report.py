"""Write docs/reliability.md from the figures one `make faults` run recorded.

    python -m tests.faults.report FIGURES.jsonl DURATION_S PYTEST_SUMMARY > docs/reliability.md
"""

import json
import sys
from datetime import UTC, datetime

COMMAND = "make faults"
COLUMNS = ("faults", "inputs", "server_errors", "lost", "duplicates", "presses")


def _seconds(value):
    return "" if value is None else f"{float(value):.1f}"


def main(path, seconds, summary):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    totals = {key: sum(row[key] for row in rows) for key in COLUMNS}
    out = [
        "# Reliability and security: figures of one run",
        "",
        f"Written by `{COMMAND}` (FAULTS_FULL=1: full sizes) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, in {float(seconds) / 60:.1f} minutes; "
        f"pytest: {summary}. Every figure below comes from that one run. What each test does, "
        "and why, is in [decisions.md](decisions.md#reliability-and-security); `make test` "
        "runs the same tests at reduced sizes.",
        "",
        "| totals | faults injected | inputs tried | 5xx seen | presses lost | duplicates |",
        "|---|---:|---:|---:|---:|---:|",
        f"| all tests | {totals['faults']} | {totals['inputs']} | {totals['server_errors']} "
        f"| {totals['lost']} | {totals['duplicates']} |",
        "",
        f"Presses checked end to end against the final invariant: {totals['presses']} (hub "
        "presses == kiosk presses, seq 1..N per device, no gap, no duplicate, rollups == "
        "`hub rebuild-rollups`, `PRAGMA integrity_check` ok).",
        "",
        "| area | what | faults | inputs | 5xx | presses | lost | duplicates | seconds | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        out.append(
            f"| {row['area']} | {row['what']} | {row['faults']} | {row['inputs']} "
            f"| {row['server_errors']} | {row['presses']} | {row['lost']} "
            f"| {row['duplicates']} | {_seconds(row['seconds'])} "
            f"| {row['note'].replace('|', '/')} |"
        )
    out += ["", "Regenerate: `make faults` (about 20 minutes on two cores).", ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
