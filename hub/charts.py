"""Charts as server-rendered SVG: no JavaScript, text labels, a <title> for screen readers.

Charts are built as plain strings for speed (a year's trend is thousands of shapes): every
piece of text goes through `escape`, numbers are formatted as numbers, and only `_svg` turns
the result into Markup. Colours come from the Moods table of the contract. Shapes use
presentation attributes, never `style=` (the CSP allows no inline style).
"""

from markupsafe import Markup, escape

from hub.moods import MOOD_NAMES
from hub.stats import FEW_PRESSES

MOOD_COLOURS = {
    "very_unhappy": "#a3201d",  # dark red
    "unhappy": "#f0938e",  # light red
    "happy": "#9fd69b",  # light green
    "very_happy": "#1f6e35",  # dark green
}
MOOD_LABELS = {"very_unhappy": "Very unhappy", "unhappy": "Unhappy", "happy": "Happy",
               "very_happy": "Very happy"}
EMPTY = "#ececec"
_STOPS = [(0, (0xA3, 0x20, 0x1D)), (100 / 3, (0xF0, 0x93, 0x8E)),
          (200 / 3, (0x9F, 0xD6, 0x9B)), (100, (0x1F, 0x6E, 0x35))]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def index_colour(index):
    """The mood colours as a scale: 0 dark red, 33 light red, 67 light green, 100 dark green."""
    if index is None:
        return EMPTY
    for (a, ca), (b, cb) in zip(_STOPS, _STOPS[1:], strict=False):
        if index <= b:
            t = (index - a) / (b - a)
            return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb,
                                                                                  strict=True))
    return "#1f6e35"


def _ink(index):
    """Text colour readable on index_colour(index)."""
    return "#ffffff" if index is not None and (index < 20 or index > 80) else "#1a1a1a"


def _svg(width, height, title, body, css="chart"):
    """The chart as Markup; *body* holds strings built here with every text escaped."""
    head = (f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704  # nosec B704  # every text escaped above


def _text(x, y, text, anchor="start", size=11, fill="#1a1a1a", hidden=False):
    """A text label, escaped. *hidden*: the shape's <title> already says it."""
    aria = ' aria-hidden="true"' if hidden else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}"{aria}>{escape(text)}</text>')


def index_parts(entry):
    """A Happy Index (*entry*: n, happy_index, happy_index_ci) and what stands beside it:
    ("78.2", " (74.2–82.3), n = 219"); under FEW_PRESSES presses ("100.0", ", n = 3, few
    presses"), not an interval that looks certain (3 happy presses give 100.0–100.0);
    ("–", " no presses")."""
    n = entry["n"]
    if not n:
        return "–", " no presses"
    value = f"{entry['happy_index']:.1f}"
    if n < FEW_PRESSES or entry["happy_index_ci"] is None:
        return value, f", n = {n}, few presses"
    low, high = entry["happy_index_ci"]
    return value, f" ({low:.1f}–{high:.1f}), n = {n}"


def index_words(entry):
    """"Happy Index 78.2 (74.2–82.3), n = 219", "Happy Index 100.0, n = 3, few presses" or
    "no presses": the index as a person reads it (design.md, Honest numbers)."""
    if not entry["n"]:
        return "no presses"
    return "Happy Index {}{}".format(*index_parts(entry))


def few_presses(entry):
    """Some presses, but fewer than FEW_PRESSES: marked, not shown as certain."""
    return 0 < entry["n"] < FEW_PRESSES


def sparkline(days, width=140, height=34):
    """The Happy Index of each day as a line (gaps where a day had no presses)."""
    n = len(days)
    step = width / max(n - 1, 1)
    body, run = [], []

    def flush():
        if len(run) == 1:
            x, y = run[0]
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#333"/>')
        elif run:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            body.append(f'<polyline points="{points}" fill="none" stroke="#333" '
                               'stroke-width="1.6"/>')
        run.clear()

    mid = height / 2
    body.append(f'<line x1="0" y1="{mid:.1f}" x2="{width}" y2="{mid:.1f}" stroke="#ccc" '
                'stroke-dasharray="2 2"/>')
    for i, day in enumerate(days):
        if day["happy_index"] is None:
            flush()
            continue
        run.append((i * step, 3 + (height - 6) * (1 - day["happy_index"] / 100)))
    flush()
    shown = [f"{d['date']}: "
             + ("–" if d["happy_index"] is None else f"{d['happy_index']:.1f} (n = {d['n']})")
             for d in days]
    title = f"Happy Index, last {n} days. " + "; ".join(shown)
    return _svg(width, height, title, body, css="sparkline")


def heatmap(cells, title):
    """Weekday rows x hour columns, each cell coloured by its Happy Index, labelled with it."""
    cw, ch, left, top = 30, 24, 38, 18
    width, height = left + 24 * cw + 2, top + 7 * ch + 26
    body = [_FEW_PATTERN]
    body += [_text(left + h * cw + cw / 2, 12, f"{h:02d}", "middle", 10, "#555")
             for h in range(24)]
    for d, row in enumerate(cells):
        y = top + d * ch
        body.append(_text(2, y + ch / 2 + 4, WEEKDAYS[d], size=11, fill="#333"))
        for h, cell in enumerate(row):
            x = left + h * cw
            index = cell["happy_index"]
            label = f"{WEEKDAYS[d]} {h:02d}:00-{h + 1:02d}:00: {index_words(cell)}"
            few = few_presses(cell)
            body.append(f'<g><title>{escape(label)}</title>'
                        + _cell(x + 1, y + 1, cw - 2, ch - 2, index, few) + "</g>")
            if index is not None:
                body.append(_text(x + cw / 2, y + ch / 2 + 4, f"{index:.0f}", "middle", 10,
                                  _FEW_INK if few else _ink(index), hidden=True))
    legend_y = top + 7 * ch + 8
    body.append(_cell(left, legend_y, 22, 14, 50, True))
    body.append(_text(left + 28, legend_y + 11,
                      f"hatched: fewer than {FEW_PRESSES} presses, too few to tell (the number "
                      "is still the cell's Happy Index) · grey: no presses",
                      size=10, fill="#1a1a1a"))
    return _svg(width, height, title, body, css="chart heatmap")


# A cell of few presses: its colour faded towards white and hatched with white lines, so a
# red cell of 3 presses does not look like one of 300; its number stays dark and readable.
_FEW_PATTERN = ('<defs><pattern id="few-presses" width="6" height="6" '
                'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
                '<line x1="0" y1="0" x2="0" y2="6" stroke="#ffffff" stroke-width="2.5"/>'
                '</pattern></defs>')
_FEW_INK = "#1a1a1a"


def _faded(colour, keep=0.45):
    """*colour* (#rrggbb) mixed with white, *keep* of it left."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 - (255 - c) * keep):02x}" for c in rgb)


def _cell(x, y, w, h, index, few):
    fill = index_colour(index)
    if not few:
        return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="2" fill="{fill}"/>'
    return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="2" fill="{_faded(fill)}"/>'
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="2" fill="url(#few-presses)" '
            f'stroke="#8a8a8a" stroke-width="0.8" stroke-dasharray="2 2"/>')


def trend(days, title, markers=()):
    """Daily presses as stacked bars (mood colours) and the Happy Index as a line (0-100);
    *markers* ({date, number, label}: actions) as numbered dashed lines on their days."""
    width, height, left, right, top, bottom = 760, 230, 40, 40, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(days)
    slot = plot_w / max(n, 1)
    most = max([d["total"] for d in days] + [1])
    body = []
    for value in (0, 50, 100):  # index grid and right-hand axis
        y = top + plot_h * (1 - value / 100)
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    'stroke="#e2e2e2"/>')
        body.append(_text(left + plot_w + 4, y + 4, str(value), size=10, fill="#555"))
    body.append(_text(left - 4, top + 8, str(most), "end", 10, "#555"))
    body.append(_text(left - 4, top + plot_h, "0", "end", 10, "#555"))
    label_every = max(1, round(n / 8))
    points, few, band = [], [], []  # band: (x, y of low, y of high) of each day, or None
    for i, day in enumerate(days):
        x = left + i * slot
        y = top + plot_h
        bar_w = max(slot * 0.75, 1)
        parts = []
        for name in MOOD_NAMES:
            count = day["counts"][name]
            if count:
                h = plot_h * count / most
                y -= h
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}"'
                                    f' fill="{MOOD_COLOURS[name]}"/>')
        label = f"{day['date']}: {index_words(day)}"
        body.append(("<g><title>{}</title>{}</g>").format(escape(label), "".join(parts)))
        if i % label_every == 0:
            body.append(_text(x + bar_w / 2, height - bottom + 14, day["date"][5:], "middle",
                              10, "#555"))
        if day["happy_index"] is not None:
            points.append((x + bar_w / 2, top + plot_h * (1 - day["happy_index"] / 100)))
            few.append(few_presses(day))
        ci = day["happy_index_ci"] if not few_presses(day) else None
        band.append(None if ci is None else (x + bar_w / 2, top + plot_h * (1 - ci[0] / 100),
                                             top + plot_h * (1 - ci[1] / 100)))
    body.extend(_band(band))
    if len(points) > 1:
        body.append(('<polyline points="{}" fill="none" stroke="#1a1a1a" '
                           'stroke-width="2"/>').format(
            " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
    for (x, y), hollow in zip(points, few, strict=True) if n <= 62 else ():
        # A day of few presses: an open dot, its index not to be taken as certain.
        paint = ('fill="#ffffff" stroke="#1a1a1a" stroke-width="1.5"' if hollow
                 else 'fill="#1a1a1a"')
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" {paint}/>')
    body.extend(_markers(markers, days, left, slot, top, plot_h))
    body.append(_text(left, height - 4, "bars: presses per day · line: Happy Index (right axis)"
                      " · grey band: its 95 % interval · open dot: fewer than "
                      f"{FEW_PRESSES} presses", size=10, fill="#555"))
    return _svg(width, height, title, body)


MARKER = "#1f5f8b"  # the pages' accent colour: not a mood colour


def _markers(markers, days, left, slot, top, plot_h):
    """A dashed line through the plot on each marker's day, its number in a flag on top."""
    column = {day["date"]: i for i, day in enumerate(days)}
    body, stacked = [], {}
    for marker in markers:
        i = column.get(marker["date"])
        if i is None:
            continue
        x = left + i * slot + max(slot * 0.75, 1) / 2
        above = stacked.get(i, 0)  # several on one day: flags one above the other
        stacked[i] = above + 1
        y = top + 1 + 13 * above
        label = f"Action {marker['number']}: {marker['label']}"
        body.append(
            f'<g><title>{escape(label)}</title>'
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h:.1f}" '
            f'stroke="{MARKER}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<rect x="{x - 7:.1f}" y="{y:.1f}" width="14" height="12" rx="2" fill="{MARKER}"/>'
            + _text(x, y + 9.5, str(marker["number"]), "middle", 9, "#ffffff", hidden=True)
            + "</g>")
    return body


def _band(band):
    """The daily Happy Index's 95 % interval: a grey band over each run of days that have
    one (a short vertical bar for a day alone)."""
    body, run = [], []
    for entry in [*band, None]:
        if entry is not None:
            run.append(entry)
            continue
        if len(run) == 1:
            x, low, high = run[0]
            body.append(f'<line x1="{x:.1f}" y1="{low:.1f}" x2="{x:.1f}" y2="{high:.1f}" '
                        'stroke="#1a1a1a" stroke-opacity="0.3" stroke-width="3"/>')
        elif run:
            edge = [f"{x:.1f},{high:.1f}" for x, _, high in run]
            edge += [f"{x:.1f},{low:.1f}" for x, low, _ in reversed(run)]
            body.append(f'<polygon points="{" ".join(edge)}" fill="#1a1a1a" '
                        'fill-opacity="0.14"/>')
        run = []
    return body


def distribution(report, title):
    """One bar split by mood, each part labelled with its count and share."""
    width, height = 760, 58
    total = report["total"]
    body = []
    x = 0.0
    for name in MOOD_NAMES:
        count = report["counts"][name]
        share = count / total if total else 0
        w = width * share
        label = f"{MOOD_LABELS[name]}: {count} ({share:.0%})"
        body.append(f'<g><title>{escape(label)}</title><rect x="{x:.1f}" y="0" width="{w:.1f}" '
                           f'height="30" fill="{MOOD_COLOURS[name]}"/></g>')
        if w > 60:
            ink = "#ffffff" if name in ("very_unhappy", "very_happy") else "#1a1a1a"
            body.append(_text(x + w / 2, 20, f"{share:.0%}", "middle", 12, ink))
        x += w
    if not total:
        body.append(f'<rect x="0" y="0" width="{width}" height="30" fill="{EMPTY}"/>')
    x = 0.0
    for name in MOOD_NAMES:
        body.append(f'<rect x="{x:.1f}" y="40" width="10" height="10" '
                    f'fill="{MOOD_COLOURS[name]}"/>')
        body.append(_text(x + 14, 49, f"{MOOD_LABELS[name]} {report['counts'][name]}", size=11))
        x += width / 4
    return _svg(width, height, title, body)
