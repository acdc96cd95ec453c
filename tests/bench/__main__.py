"""Run every benchmark of tests/bench/ and print one table: `make bench`.

Each module named ``bench_*.py`` has a ``run()`` that measures, prints what it is doing, and
returns rows: dicts with ``benchmark``, ``figure`` (ours), ``unit``, and where there is one,
``spread`` (the range of the figure, and of the ratio, over the repeats), ``baseline`` (the
same work done the plain way, measured side by side in the same run), ``ratio`` and
``target``. A row ``{"detail": text}`` is a block of text (a per-level table) written below
the table. Figures vary between machines; ratios much less.
"""

import datetime
import importlib
import pkgutil
import platform
import sys
from pathlib import Path

import tests.bench as package

COLUMNS = ("benchmark", "figure", "spread", "unit", "baseline", "ratio", "target")

HONESTY = """\
How these figures avoid flattering. Every baseline runs in the same run as its figure. Where
a row shows a spread, the work was repeated, alternating round after round with its baseline
where it has one: the figure is the median of the rounds, the spread their range (min-max).
Ingest (sequential and contended) and the fleet send only presses the hub has never seen
(new seqs, new ids) and compare what the client sent and was answered with the hub's own
counters (hub_presses_ingested_total, hub_presses_duplicate_total on GET /metrics): a
disagreement marks the figure INVALID (the sequential ingest stops with an error). The
fleet: each level lasts one whole 60 s sync interval (every kiosk syncs once in it), latency
counts from when a request was due (a hub that falls behind pays for its queue), the ladder
runs three times, and a level is carried only if its median p99 is under 1 s with no error
in any run. Contended ingest: 32 clients in several processes (their CPU is printed, so a
saturated client shows) against the physical ceiling of one durable commit per request (32
threads, the hub's own store code, synchronous=FULL in WAL, the same directory), the better
of racing for SQLite's lock and queueing for it.
"""


def _fmt(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows):
    cells = [[_fmt(row.get(c)) for c in COLUMNS] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        lines.append("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines)


def main(argv=None):
    only = set(argv if argv is not None else sys.argv[1:])
    rows, details = [], []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("bench_") or (only and info.name not in only):
            continue
        print(f"== {info.name}", flush=True)
        module = importlib.import_module(f"tests.bench.{info.name}")
        for row in module.run():
            (details if "detail" in row else rows).append(row)
    text = table(rows)
    print()
    print(text)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    python = f"{platform.python_implementation()} {platform.python_version()}"
    machine = f"{platform.machine()}, {python}"
    report = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
    if not only:
        report.write_text(
            "# Benchmarks\n\n"
            f"Written by `make bench` on {stamp} ({machine}, {_cores()} cores).\n"
            "Baselines run side by side in the same run; compare ratios, not figures.\n\n"
            + HONESTY + "\n" + text + "\n"
            + "".join("\n" + row["detail"] + "\n" for row in details)
        )
        print(f"\nwritten to {report}")


def _cores():
    import os

    return os.cpu_count()


if __name__ == "__main__":
    main()
