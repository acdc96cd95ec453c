"""Run every benchmark of tests/bench/ and print one table: `make bench`.

Each module named ``bench_*.py`` has a ``run()`` that measures, prints what it is doing, and
returns rows: dicts with ``benchmark``, ``figure`` (ours), ``unit``, and where there is one,
``baseline`` (the same work done the plain way, measured side by side in the same run),
``ratio`` and ``target``. Figures vary between machines; ratios much less.
"""

import datetime
import importlib
import pkgutil
import platform
import sys
from pathlib import Path

import tests.bench as package

COLUMNS = ("benchmark", "figure", "unit", "baseline", "ratio", "target")


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
    rows = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if not info.name.startswith("bench_") or (only and info.name not in only):
            continue
        print(f"== {info.name}", flush=True)
        module = importlib.import_module(f"tests.bench.{info.name}")
        rows.extend(module.run())
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
            + text + "\n"
        )
        print(f"\nwritten to {report}")


def _cores():
    import os

    return os.cpu_count()


if __name__ == "__main__":
    main()
