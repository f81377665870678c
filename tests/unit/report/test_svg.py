"""The static report's SVG chart: well-formed, escaped, gaps for missing values."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from perfsheriff.report.svg import Span, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_a_chart_is_well_formed_svg_with_line_band_and_spans() -> None:
    svg = line_chart(
        [0, 1, 2, 3], [1.0, 1.1, 2.0, 2.1], [0.9, 1.0, 1.9, 2.0], [1.1, 1.2, 2.1, 2.2], spans=[Span(1, 2, "regression")]
    )
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.attrib["points"].split()) == 4
    assert len(list(root.iter(f"{SVG}polygon"))) == 1
    assert any(r.attrib.get("fill") == "#d1242f" for r in root.iter(f"{SVG}rect"))


def test_text_is_escaped() -> None:
    title = '<script>alert("x")</script> & co'
    svg = line_chart([0, 1], [1.0, 2.0], title=title, unit="<b>ms</b>", spans=[Span(0, 1, "drift", "<i>a</i>")])
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "<i>" not in svg
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}title").text == title  # type: ignore[union-attr]


def test_non_finite_values_leave_gaps_and_an_empty_series_says_so() -> None:
    svg = line_chart([0, 1, 2], [1.0, math.nan, 3.0])
    (line,) = ET.fromstring(svg).iter(f"{SVG}polyline")
    assert len(line.attrib["points"].split()) == 2
    empty = line_chart([], [])
    assert "no data" in empty
    ET.fromstring(empty)
    flat = line_chart([5, 5], [2.0, 2.0])
    ET.fromstring(flat)
