"""A tiny SVG line chart for static reports: a series' median per revision, its min-max band, alert ranges and
machine generations' boundaries.

Pure: takes numbers and text, returns an SVG document as a string. Every piece
of text is XML-escaped; numbers are formatted, never interpolated raw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from perfsheriff.alerts import AlertKind


@dataclass(frozen=True, slots=True)
class Span:
    """A highlighted x range (an alert's suspect range): from ``start`` to ``end``, drawn in ``kind``'s colour."""

    start: float
    end: float
    kind: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class Mark:
    """A vertical dashed line at ``x`` (a machine generation's boundary), with ``label`` as its tooltip."""

    x: float
    label: str = ""


_COLORS: dict[str, str] = {
    AlertKind.REGRESSION: "#d1242f",
    AlertKind.DRIFT: "#9a6700",
    AlertKind.IMPROVEMENT: "#1a7f37",
}


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (Heckbert's "nice numbers", simplified)."""
    if not high > low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def line_chart(
    xs: Sequence[float],
    medians: Sequence[float],
    lows: Sequence[float] | None = None,
    highs: Sequence[float] | None = None,
    *,
    spans: Sequence[Span] = (),
    marks: Sequence[Mark] = (),
    title: str = "",
    unit: str = "",
    width: int = 720,
    height: int = 240,
) -> str:
    """An SVG line chart; non-finite values leave gaps. An empty series gives a chart saying so."""
    left, right, top, bottom = 56, 12, 24 if title else 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    points = [(x, y) for x, y in zip(xs, medians, strict=True) if math.isfinite(x) and math.isfinite(y)]
    band = [
        (x, lo, hi)
        for x, lo, hi in zip(xs, lows or medians, highs or medians, strict=True)
        if math.isfinite(x) and math.isfinite(lo) and math.isfinite(hi)
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="sans-serif" font-size="11" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    if title:
        parts.append(f'<text x="{left}" y="15" font-size="12" font-weight="bold">{escape(title)}</text>')
    if not points:
        parts.append(f'<text x="{left}" y="{top + plot_h / 2:.1f}" fill="#59636e">no data</text></svg>')
        return "".join(parts)
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0 = min([b[1] for b in band] + [p[1] for p in points])
    y1 = max([b[2] for b in band] + [p[1] for p in points])
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y0, y1 = y0 - abs(y0) * 0.05 - 1e-9, y1 + abs(y1) * 0.05 + 1e-9

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * plot_h

    for tick in _ticks(y0, y1):
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(tick):.1f}" y2="{py(tick):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 4}" y="{py(tick) + 4:.1f}" text-anchor="end">{escape(_fmt(tick))}</text>')
    for tick in _ticks(x0, x1):
        parts.append(f'<text x="{px(tick):.1f}" y="{height - 10}" text-anchor="middle">{escape(_fmt(tick))}</text>')
    if unit:
        parts.append(f'<text x="4" y="{top + 10}" fill="#59636e">{escape(unit)}</text>')
    for span in spans:
        a, b = px(max(span.start, x0)), px(min(span.end, x1))
        color = _COLORS.get(span.kind, "#59636e")
        parts.append(
            f'<rect x="{a:.1f}" y="{top}" width="{max(b - a, 2):.1f}" height="{plot_h}" fill="{color}" '
            f'fill-opacity="0.15"><title>{escape(span.label)}</title></rect>'
        )
    for mark in marks:
        if x0 <= mark.x <= x1:
            at = px(mark.x)
            parts.append(
                f'<line x1="{at:.1f}" x2="{at:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#59636e" '
                f'stroke-dasharray="4 3"><title>{escape(mark.label)}</title></line>'
            )
    if band:
        outline = [f"{px(x):.1f},{py(hi):.1f}" for x, _, hi in band] + [
            f"{px(x):.1f},{py(lo):.1f}" for x, lo, _ in reversed(band)
        ]
        parts.append(f'<polygon points={quoteattr(" ".join(outline))} fill="#1f6feb" fill-opacity="0.15"/>')
    line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
    parts.append(f'<polyline points={quoteattr(line)} fill="none" stroke="#1f6feb" stroke-width="1.5"/>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d1d9e0"/></svg>')
    return "".join(parts)
