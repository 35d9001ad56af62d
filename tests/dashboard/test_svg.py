"""The dashboard's SVG charts, drawn from hpjobs.charts data: scales, ticks, gaps, markers."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from hpjobs.charts import HyperparameterAxis, Panel, Series, Trial
from hpjobs.dashboard.svg import (
    HEIGHT,
    WIDTH,
    hyperparameter_chart,
    log_ticks,
    metric_chart,
    nice_ticks,
    trials_chart,
)

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (0.05, 0.95, [0.2, 0.4, 0.6, 0.8]),
        (-3.0, 7.0, [-2.0, 0.0, 2.0, 4.0, 6.0]),
        (1.0, 15.0, [5.0, 10.0, 15.0]),
        (2.0, 2.0, [2.0]),
    ],
)
def test_nice_ticks_are_round_numbers_inside_the_range(
    low: float, high: float, expected: list[float]
) -> None:
    assert nice_ticks(low, high) == pytest.approx(expected)


def test_log_ticks_are_powers_of_ten_and_their_halves_over_few_decades() -> None:
    assert log_ticks(0.0001, 0.05) == pytest.approx([0.0001, 0.001, 0.01])
    assert log_ticks(8, 128) == pytest.approx([10, 20, 50, 100])


def points_of(polyline: ET.Element) -> list[tuple[float, float]]:
    return [
        (float(x), float(y))
        for x, y in (pair.split(",") for pair in polyline.attrib["points"].split())
    ]


def test_a_metric_line_breaks_at_nan_and_maps_values_inside_the_frame() -> None:
    panel = Panel(
        "loss",
        "Epoch",
        [Series("train:loss", [1, 2, 3, 4], [1.0, math.nan, 0.5, 0.25])],
    )
    root = ET.fromstring(str(metric_chart(panel)))
    assert root.attrib["viewBox"] == f"0 0 {WIDTH} {HEIGHT}"
    lines = root.findall(f".//{SVG}g[@class='series']/{SVG}polyline")
    assert [len(points_of(line)) for line in lines] == [1, 2]
    (x1, y1), (x3, y3), (x4, y4) = points_of(lines[0]) + points_of(lines[1])
    assert x1 < x3 < x4 and y1 < y3 < y4  # a falling loss goes down the chart
    assert x3 - x1 == pytest.approx(2 * (x4 - x3))  # epochs evenly spaced
    series = root.find(f".//{SVG}g[@class='series']")
    assert series is not None and series.attrib["data-points"] == "3"
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.attrib.get("class") == "tick"]
    assert "1.5" not in ticks  # epochs are whole numbers


def test_trials_chart_marks_each_status_and_steps_the_best_so_far() -> None:
    found = [
        Trial("t-1", "Completed", 3.0, {}),
        Trial("t-2", "Stopped", 5.0, {}),
        Trial("t-3", "Completed", 1.0, {}),
        Trial("t-4", "InProgress", 0.5, {}),
    ]
    chart = str(trials_chart(found, [3.0, 3.0, 1.0, 1.0], "loss", minimize=True))
    groups = dict(re.findall(r'data-status="(\w+)" data-points="(\d+)"', chart))
    assert groups == {"Completed": "2", "Stopped": "1", "InProgress": "1"}
    assert "stopped early" in chart and "<title>t-2</title>" in chart
    root = ET.fromstring(chart)
    step = root.find(f".//{SVG}g[@class='series step']/{SVG}polyline")
    assert step is not None
    corners = points_of(step)
    levels = [y for i, (_, y) in enumerate(corners) if i == 0 or y != corners[i - 1][1]]
    assert len(levels) == 2 and levels[0] < levels[1]  # one step down, to the lower loss
    drop = next(i for i, (_, y) in enumerate(corners) if y == levels[1])
    circles = re.findall(r'<circle cx="([\d.]+)"', chart)
    assert corners[drop][0] == pytest.approx(float(circles[1]))  # at trial 3, the 2nd circle


def test_a_log_axis_spreads_decades_evenly() -> None:
    found = [
        Trial(f"t-{i}", "Completed", float(i), {"lr": str(v)})
        for i, v in enumerate([0.001, 0.01, 0.1])
    ]
    axis = HyperparameterAxis("lr", "log", [0.001, 0.01, 0.1], [], low=0.0001, high=1.0)
    chart = str(hyperparameter_chart(axis, found, "loss"))
    xs = [float(x) for x in re.findall(r'<circle cx="([\d.]+)"', chart)]
    assert len(xs) == 3 and xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.2)
    assert 'data-kind="log"' in chart and "lr (log scale)" in chart


def test_text_in_a_chart_is_escaped() -> None:
    panel = Panel("<b>", "Epoch", [Series("a&b", [1.0], [1.0])])
    chart = str(metric_chart(panel))
    ET.fromstring(chart)  # well-formed
    assert "<b>" not in chart and "&lt;b&gt;" in chart and 'data-label="a&amp;b"' in chart
