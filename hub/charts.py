"""Charts as server-rendered SVG: no JavaScript, text labels, a <title> for screen readers.

Every piece of text is escaped by `Markup.format`; colours come from the Moods table of the
contract. Shapes use presentation attributes, never `style=` (the CSP allows no inline style).
"""

from markupsafe import Markup

from hub.moods import MOOD_NAMES

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
    return Markup(
        '<svg class="{}" viewBox="0 0 {} {}" role="img" xmlns="http://www.w3.org/2000/svg">'
        "<title>{}</title>{}</svg>"
    ).format(css, width, height, title, Markup("").join(body))


def _text(x, y, text, anchor="start", size=11, fill="#1a1a1a", hidden=False):
    """A text label; Markup.format escapes *text*. *hidden*: the <title> already says it."""
    template = _HIDDEN_TEXT if hidden else _TEXT
    return template.format(x, y, anchor, size, fill, text)


_TEXT = Markup('<text x="{:.1f}" y="{:.1f}" text-anchor="{}" font-size="{}" fill="{}">{}</text>')
_HIDDEN_TEXT = Markup('<text x="{:.1f}" y="{:.1f}" text-anchor="{}" font-size="{}" fill="{}"'
                      ' aria-hidden="true">{}</text>')


def _fmt(index):
    return "no presses" if index is None else f"Happy Index {index:g}"


def sparkline(days, width=140, height=34):
    """The Happy Index of each day as a line (gaps where a day had no presses)."""
    n = len(days)
    step = width / max(n - 1, 1)
    body, run = [], []

    def flush():
        if len(run) == 1:
            x, y = run[0]
            body.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="2" fill="#333"/>').format(x, y))
        elif run:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            body.append(Markup('<polyline points="{}" fill="none" stroke="#333" '
                               'stroke-width="1.6"/>').format(points))
        run.clear()

    body.append(Markup('<line x1="0" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#ccc" '
                       'stroke-dasharray="2 2"/>').format(height / 2, width, height / 2))
    for i, day in enumerate(days):
        if day["happy_index"] is None:
            flush()
            continue
        run.append((i * step, 3 + (height - 6) * (1 - day["happy_index"] / 100)))
    flush()
    shown = [f"{d['date']}: {d['happy_index'] if d['happy_index'] is not None else '–'}"
             for d in days]
    title = f"Happy Index, last {n} days. " + "; ".join(shown)
    return _svg(width, height, title, body, css="sparkline")


def heatmap(cells, title):
    """Weekday rows x hour columns, each cell coloured by its Happy Index, labelled with it."""
    cw, ch, left, top = 30, 24, 38, 18
    width, height = left + 24 * cw + 2, top + 7 * ch + 2
    body = [_text(left + h * cw + cw / 2, 12, f"{h:02d}", "middle", 10, "#555")
            for h in range(24)]
    for d, row in enumerate(cells):
        y = top + d * ch
        body.append(_text(2, y + ch / 2 + 4, WEEKDAYS[d], size=11, fill="#333"))
        for h, cell in enumerate(row):
            x = left + h * cw
            index = cell["happy_index"]
            label = (f"{WEEKDAYS[d]} {h:02d}:00-{h + 1:02d}:00: {_fmt(index)}, "
                     f"{cell['total']} presses")
            body.append(Markup(
                '<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" rx="2" '
                'fill="{}"/></g>').format(label, x + 1, y + 1, cw - 2, ch - 2,
                                          index_colour(index)))
            if index is not None:
                body.append(_text(x + cw / 2, y + ch / 2 + 4, f"{index:.0f}", "middle", 10,
                                  _ink(index), hidden=True))
    return _svg(width, height, title, body, css="chart heatmap")


def trend(days, title):
    """Daily presses as stacked bars (mood colours) and the Happy Index as a line (0-100)."""
    width, height, left, right, top, bottom = 760, 230, 40, 40, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(days)
    slot = plot_w / max(n, 1)
    most = max([d["total"] for d in days] + [1])
    body = []
    for value in (0, 50, 100):  # index grid and right-hand axis
        y = top + plot_h * (1 - value / 100)
        body.append(Markup('<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#e2e2e2"/>')
                    .format(left, y, left + plot_w, y))
        body.append(_text(left + plot_w + 4, y + 4, str(value), size=10, fill="#555"))
    body.append(_text(left - 4, top + 8, str(most), "end", 10, "#555"))
    body.append(_text(left - 4, top + plot_h, "0", "end", 10, "#555"))
    label_every = max(1, round(n / 8))
    points = []
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
                parts.append(Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"'
                                    ' fill="{}"/>').format(x, y, bar_w, h, MOOD_COLOURS[name]))
        label = f"{day['date']}: {day['total']} presses, {_fmt(day['happy_index'])}"
        body.append(Markup("<g><title>{}</title>{}</g>").format(label, Markup("").join(parts)))
        if i % label_every == 0:
            body.append(_text(x + bar_w / 2, height - bottom + 14, day["date"][5:], "middle",
                              10, "#555"))
        if day["happy_index"] is not None:
            points.append((x + bar_w / 2, top + plot_h * (1 - day["happy_index"] / 100)))
    if len(points) > 1:
        body.append(Markup('<polyline points="{}" fill="none" stroke="#1a1a1a" '
                           'stroke-width="2"/>').format(
            " ".join(f"{x:.1f},{y:.1f}" for x, y in points)))
    for x, y in points if n <= 62 else ():
        body.append(Markup('<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="#1a1a1a"/>')
                    .format(x, y))
    body.append(_text(left, height - 4, "bars: presses per day · line: Happy Index (right axis)",
                      size=10, fill="#555"))
    return _svg(width, height, title, body)


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
        body.append(Markup('<g><title>{}</title><rect x="{:.1f}" y="0" width="{:.1f}" '
                           'height="30" fill="{}"/></g>').format(label, x, w,
                                                                 MOOD_COLOURS[name]))
        if w > 60:
            ink = "#ffffff" if name in ("very_unhappy", "very_happy") else "#1a1a1a"
            body.append(_text(x + w / 2, 20, f"{share:.0%}", "middle", 12, ink))
        x += w
    if not total:
        body.append(Markup('<rect x="0" y="0" width="{}" height="30" fill="{}"/>').format(
            width, EMPTY))
    x = 0.0
    for name in MOOD_NAMES:
        body.append(Markup('<rect x="{:.1f}" y="40" width="10" height="10" fill="{}"/>').format(
            x, MOOD_COLOURS[name]))
        body.append(_text(x + 14, 49, f"{MOOD_LABELS[name]} {report['counts'][name]}", size=11))
        x += width / 4
    return _svg(width, height, title, body)
