"""Server-rendered SVG bar charts for the statistics page: no script, no CDN, nothing to load.

Each chart is one `<svg class="chart">` with a fixed viewBox (it scales to the page width), a `<title>`
naming it for screen readers, a `<title>` on every bar (the tooltip) and the numbers written as text.
Colours are SVG presentation attributes, which the Content-Security-Policy (style-src 'self') allows.
Every piece of text is escaped; the page shows a table of the same numbers under each chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 960
PALETTE = ("#0b6bcb", "#1a7f37", "#c77700", "#8250df", "#c62828", "#00838f", "#6d4c41", "#5f6b7a")
INK, MUTED, GRID = "#1d2733", "#5f6b7a", "#d9dee5"
EMPTY_TEXT = "所选期间暂无数据"


@dataclass(frozen=True)
class Series:
    """One stacked layer of a column chart: a name and one value per category."""

    name: str
    values: list[int]


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _text(x: float, y: float, content: str, *, size: int = 13, anchor: str = "start", fill: str = INK,
          bold: bool = False) -> str:
    weight = ' font-weight="700"' if bold else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{weight}>'
            f"{escape(content)}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" fill="{fill}">'
            f"<title>{escape(tip)}</title></rect>")


def _svg(chart_id: str, title: str, height: int, body: list[str]) -> Markup:
    head = (f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {height}" width="100%" '
            f'role="img" aria-labelledby="{escape(chart_id)}-title" xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{escape(chart_id)}-title">{escape(title)}</title>')
    return Markup(head + "".join(body) + "</svg>")


def _empty(chart_id: str, title: str) -> Markup:
    return _svg(chart_id, title, 80, [_text(WIDTH / 2, 46, EMPTY_TEXT, size=14, anchor="middle", fill=MUTED)])


def nice_step(maximum: int, ticks: int = 4) -> int:
    """An integer axis step of 1, 2 or 5 times a power of ten giving about `ticks` steps up to `maximum`."""
    raw = max(maximum / ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _truncate(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def stacked_columns(chart_id: str, title: str, categories: list[str], series: list[Series], *,
                    tips: list[str] | None = None) -> Markup:
    """Vertical columns, one per category (e.g. a day), stacked by series (e.g. a channel), with a legend.

    `tips` are the categories' long names for the tooltips (e.g. the full date when labels are short).
    """
    totals = [sum(s.values[i] for s in series) for i in range(len(categories))]
    if not categories or not any(totals):
        return _empty(chart_id, title)
    tips = tips or categories
    height, left, right, top, bottom = 300, 52, 16, 40, 36
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = nice_step(max(totals))
    top_value = step * math.ceil(max(totals) / step)
    body: list[str] = []
    legend_x = 12.0
    for index, s in enumerate(series):
        body.append(f'<rect x="{legend_x:.1f}" y="8" width="12" height="12" fill="{color(index)}"></rect>')
        body.append(_text(legend_x + 16, 19, s.name, size=12))
        legend_x += 28 + 13 * len(s.name)
    for value in range(0, top_value + 1, step):
        y = top + plot_h - plot_h * value / top_value
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="{GRID}"></line>')
        body.append(_text(left - 6, y + 4, str(value), size=11, anchor="end", fill=MUTED))
    slot = plot_w / len(categories)
    bar_w = max(slot * 0.75, 1.0)
    label_every = max(1, math.ceil(len(categories) / 15))
    for i, label in enumerate(categories):
        x = left + i * slot + (slot - bar_w) / 2
        base = float(top + plot_h)
        for index, s in enumerate(series):
            value = s.values[i]
            if value:
                h = plot_h * value / top_value
                base -= h
                body.append(_rect(x, base, bar_w, h, color(index), f"{tips[i]} {s.name}：{value}"))
        if totals[i] and len(categories) <= 62:
            body.append(_text(x + bar_w / 2, base - 4, str(totals[i]), size=11, anchor="middle"))
        if i % label_every == 0:
            body.append(_text(x + bar_w / 2, height - bottom + 18, label, size=11, anchor="middle", fill=MUTED))
    return _svg(chart_id, title, height, body)


def horizontal_bars(chart_id: str, title: str, items: list[tuple[str, int]]) -> Markup:
    """One bar per item (e.g. a disease), longest label truncated on screen and whole in the tooltip."""
    if not items or not any(v for _, v in items):
        return _empty(chart_id, title)
    row, top, label_w, value_w = 30, 8, 260, 56
    height = top + row * len(items) + 8
    top_value = max(v for _, v in items)
    bar_span = WIDTH - label_w - value_w - 24
    body: list[str] = []
    for i, (label, value) in enumerate(items):
        y = top + i * row
        body.append(_text(label_w, y + 19, _truncate(label, 18), size=13, anchor="end"))
        w = bar_span * value / top_value
        body.append(_rect(label_w + 10, y + 5, w, row - 10, color(0), f"{label}：{value}"))
        body.append(_text(label_w + 16 + w, y + 20, str(value), size=13, bold=True))
    return _svg(chart_id, title, height, body)


def columns(chart_id: str, title: str, items: list[tuple[str, int]], *, colors: list[str] | None = None,
            note: str = "") -> Markup:
    """Plain vertical columns (outcomes, a histogram), the value above each and the label below.

    `note` is a line of text drawn under the heading (e.g. a share in per cent).
    """
    if not items or not any(v for _, v in items):
        return _empty(chart_id, title)
    height, left, right, top, bottom = 240, 52, 16, 52 if note else 24, 36
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = nice_step(max(v for _, v in items))
    top_value = step * math.ceil(max(v for _, v in items) / step)
    body: list[str] = [_text(12, 20, note, size=15, bold=True)] if note else []
    for value in range(0, top_value + 1, step):
        y = top + plot_h - plot_h * value / top_value
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" stroke="{GRID}"></line>')
        body.append(_text(left - 6, y + 4, str(value), size=11, anchor="end", fill=MUTED))
    slot = plot_w / len(items)
    bar_w = min(slot * 0.6, 120)
    for i, (label, value) in enumerate(items):
        x = left + i * slot + (slot - bar_w) / 2
        h = plot_h * value / top_value
        fill = colors[i % len(colors)] if colors else color(0)
        body.append(_rect(x, top + plot_h - h, bar_w, h, fill, f"{label}：{value}"))
        body.append(_text(x + bar_w / 2, top + plot_h - h - 6, str(value), size=13, anchor="middle", bold=True))
        body.append(_text(x + bar_w / 2, height - bottom + 20, _truncate(label, 12), size=12, anchor="middle"))
    return _svg(chart_id, title, height, body)
