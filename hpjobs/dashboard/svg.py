"""Charts for the dashboard as inline SVG, drawn on the server from :mod:`hpjobs.charts` data.

Every chart is a fixed-size ``<svg>`` with a ``viewBox``, so the browser scales it; the page's
script swaps in a freshly rendered chart while a job runs. Values that are NaN leave a gap in a
line and no marker. Each series and marker carries ``data-`` attributes (its label, its number
of points) so that tests can read a chart without a browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from hpjobs.charts import HyperparameterAxis, Panel, Trial

__all__ = ["PALETTE", "TRIAL_STYLES", "hyperparameter_chart", "metric_chart", "trials_chart"]

WIDTH = 480
HEIGHT = 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 62, 14, 28, 44
#: Line colours, in the order series are drawn.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
#: How trials of each status are drawn: legend label, marker shape, colour, filled.
TRIAL_STYLES: dict[str, tuple[str, str, str, bool]] = {
    "Completed": ("completed", "circle", "#1f77b4", True),
    "Stopped": ("stopped early", "cross", "#d62728", True),
    "InProgress": ("in progress", "circle", "#2ca02c", False),
    "Failed": ("failed", "triangle", "#7f7f7f", True),
}


@dataclass
class _Scale:
    """A linear or logarithmic map from data values to pixels."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        low, high, value = (
            (math.log10(self.low), math.log10(self.high), math.log10(value))
            if self.log
            else (self.low, self.high, value)
        )
        if high == low:
            return (self.start + self.end) / 2
        return self.start + (value - low) / (high - low) * (self.end - self.start)


def _bounds(values: Sequence[float], log: bool = False) -> tuple[float, float]:
    """The smallest and largest usable value, widened where they are equal."""
    usable = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
    if not usable:
        return (1.0, 10.0) if log else (0.0, 1.0)
    low, high = min(usable), max(usable)
    if low == high:
        return (
            (low / 2, high * 2)
            if log
            else (low - (abs(low) or 1) * 0.5, high + (abs(high) or 1) * 0.5)
        )
    if log:
        return low, high
    pad = (high - low) * 0.05
    return low - pad, high + pad


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values between ``low`` and ``high``, about ``count`` of them."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value = first + step * len(ticks)
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten between ``low`` and ``high`` (with 2 and 5 times them over two decades or
    less)."""
    if not (0 < low < high):
        return [low]
    decades = math.log10(high / low)
    multiples = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for multiple in multiples:
            value = multiple * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks or [low, high]


def _label(value: float) -> str:
    return f"{value:.4g}"


@dataclass
class _Chart:
    """One chart being drawn: its frame, scales and the SVG elements so far."""

    title: str
    x: _Scale
    y: _Scale
    x_label: str
    y_label: str
    kind: str
    parts: list[str] = field(default_factory=list)
    legend: list[tuple[str, str, str, bool]] = field(default_factory=list)

    @classmethod
    def framed(
        cls,
        title: str,
        x_bounds: tuple[float, float],
        y_bounds: tuple[float, float],
        labels: tuple[str, str],
        kind: str,
        x_log: bool = False,
    ) -> _Chart:
        x = _Scale(*x_bounds, _LEFT, WIDTH - _RIGHT, log=x_log)
        y = _Scale(*y_bounds, HEIGHT - _BOTTOM, _TOP)
        return cls(title, x, y, labels[0], labels[1], kind)

    def axes(self, x_ticks: Sequence[float], x_names: Sequence[str] | None = None) -> None:
        """Grid lines, tick labels and axis titles."""
        left, right, top, bottom = _LEFT, WIDTH - _RIGHT, _TOP, HEIGHT - _BOTTOM
        for tick in nice_ticks(self.y.low, self.y.high):
            y = self.y(tick)
            self.parts.append(
                f'<line class="grid" x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}"/>'
                f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(_label(tick))}</text>"
            )
        for index, tick in enumerate(x_ticks):
            x = self.x(tick)
            name = x_names[index] if x_names is not None else _label(tick)
            self.parts.append(
                f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>'
                f'<text class="tick" x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">'
                f"{escape(name)}</text>"
            )
        self.parts.append(
            f'<rect class="frame" x="{left}" y="{top}" width="{right - left}" '
            f'height="{bottom - top}"/>'
            f'<text class="axis-label" x="{(left + right) / 2:.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="middle">{escape(self.x_label)}</text>'
            f'<text class="axis-label" transform="translate(14 {(top + bottom) / 2:.1f}) '
            f'rotate(-90)" text-anchor="middle">{escape(self.y_label)}</text>'
        )

    def line(
        self, label: str, xs: Sequence[float], ys: Sequence[float], colour: str, step: bool = False
    ) -> None:
        """A polyline through the finite points, broken at NaN; dots where there are few."""
        runs: list[list[tuple[float, float]]] = [[]]
        for x, y in zip(xs, ys, strict=True):
            if not (math.isfinite(x) and math.isfinite(y)) or (self.x.log and x <= 0):
                if runs[-1]:
                    runs.append([])
                continue
            point = (self.x(x), self.y(y))
            if step and runs[-1]:
                runs[-1].append((point[0], runs[-1][-1][1]))
            runs[-1].append(point)
        body = []
        for run in runs:
            if not run:
                continue
            points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
            body.append(f'<polyline points="{points}" fill="none" stroke="{colour}"/>')
            if not step and len(xs) <= 60:
                body += [
                    f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>'
                    for px, py in run
                ]
        count = (
            sum(len(run) for run in runs) if not step else len([y for y in ys if math.isfinite(y)])
        )
        self.parts.append(
            f'<g class="series{" step" if step else ""}" data-label="{escape(label)}" '
            f'data-points="{count}">' + "".join(body) + "</g>"
        )
        self.legend.append((label, "line", colour, True))

    def markers(self, found: Sequence[Trial], xs: Sequence[float], legend: bool) -> None:
        """One marker per trial at ``xs``, styled by the trial's status."""
        for status, (label, shape, colour, filled) in TRIAL_STYLES.items():
            chosen = [
                (x, trial)
                for x, trial in zip(xs, found, strict=True)
                if trial.status == status and math.isfinite(x) and math.isfinite(trial.objective)
            ]
            if not chosen:
                continue
            body = [
                _marker(shape, self.x(x), self.y(trial.objective), colour, filled, trial.name)
                for x, trial in chosen
            ]
            self.parts.append(
                f'<g class="trials" data-status="{status}" data-points="{len(chosen)}">'
                + "".join(body)
                + "</g>"
            )
            if legend:
                self.legend.append((label, shape, colour, filled))

    def render(self) -> Markup:
        legend = []
        x = _LEFT + 6.0
        for label, shape, colour, filled in self.legend:
            symbol = (
                f'<line x1="{x:.1f}" x2="{x + 14:.1f}" y1="14" y2="14" stroke="{colour}" '
                'stroke-width="2"/>'
                if shape == "line"
                else _marker(shape, x + 7, 14, colour, filled, None)
            )
            legend.append(
                f'{symbol}<text class="legend" x="{x + 18:.1f}" y="18">{escape(label)}</text>'
            )
            x += 26 + 6.5 * len(label)
        return Markup(
            f'<svg class="chart" data-kind="{self.kind}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'role="img" aria-label="{escape(self.title)}" xmlns="http://www.w3.org/2000/svg">'
            f"<title>{escape(self.title)}</title>"
            + "".join(self.parts)
            + '<g class="legend">'
            + "".join(legend)
            + "</g></svg>"
        )


def _marker(shape: str, x: float, y: float, colour: str, filled: bool, name: str | None) -> str:
    fill = colour if filled else "white"
    tip = f"<title>{escape(name)}</title>" if name else ""
    if shape == "cross":
        d = (
            f"M{x - 4:.1f},{y - 4:.1f}L{x + 4:.1f},{y + 4:.1f}"
            f"M{x - 4:.1f},{y + 4:.1f}L{x + 4:.1f},{y - 4:.1f}"
        )
        return f'<path d="{d}" stroke="{colour}" stroke-width="2.5">{tip}</path>'
    if shape == "triangle":
        d = f"M{x:.1f},{y + 4.5:.1f}L{x - 4.5:.1f},{y - 3.5:.1f}L{x + 4.5:.1f},{y - 3.5:.1f}Z"
        return f'<path d="{d}" fill="{fill}" stroke="{colour}">{tip}</path>'
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{fill}" stroke="{colour}" '
        f'stroke-width="1.5">{tip}</circle>'
    )


def _range_bounds(axis: HyperparameterAxis) -> tuple[float, float] | None:
    """The whole range searched, padded by 5% (of the decades on a log axis)."""
    low, high = axis.low, axis.high
    if low is None or high is None or high <= low:
        return None
    if axis.kind == "log":
        if low <= 0:
            return None
        pad = 10 ** (0.05 * math.log10(high / low))
        return low / pad, high * pad
    span = (high - low) * 0.05
    return low - span, high + span


def metric_chart(panel: Panel) -> Markup:
    """One panel of a training job's metrics: a line per metric."""
    xs = [x for series in panel.series for x in series.x]
    ys = [y for series in panel.series for y in series.y]
    chart = _Chart.framed(
        panel.title, _bounds(xs), _bounds(ys), (panel.x_label, panel.title), "metric"
    )
    low, high = chart.x.low, chart.x.high
    ticks = nice_ticks(low, high)
    if panel.x_label == "Epoch":
        ticks = [t for t in ticks if float(t).is_integer()] or ticks
    chart.axes(ticks)
    for index, series in enumerate(panel.series):
        chart.line(series.label, series.x, series.y, PALETTE[index % len(PALETTE)])
    return chart.render()


def trials_chart(
    found: Sequence[Trial], best: Sequence[float], metric: str, minimize: bool
) -> Markup:
    """Every trial's objective in launch order, with the best objective so far."""
    order = [float(i) for i in range(1, len(found) + 1)]
    title = f"{metric} ({'minimize' if minimize else 'maximize'})"
    chart = _Chart.framed(
        title,
        (0.5, len(found) + 0.5),
        _bounds([t.objective for t in found]),
        ("Training job, in launch order", metric),
        "trials",
    )
    ticks = [t for t in nice_ticks(1, max(len(found), 1)) if float(t).is_integer()]
    chart.axes(ticks or [1.0])
    chart.markers(found, order, legend=True)
    chart.line("best so far", order, list(best), "#000000", step=True)
    return chart.render()


def hyperparameter_chart(axis: HyperparameterAxis, found: Sequence[Trial], metric: str) -> Markup:
    """Trials' objective against one tuned hyperparameter (a log axis for Logarithmic ranges)."""
    ys = _bounds([t.objective for t in found])
    if axis.kind == "categorical":
        count = max(len(axis.categories), 1)
        chart = _Chart.framed(
            axis.name,
            (-0.5, count - 0.5),
            ys,
            (f"{axis.name} (categorical)", metric),
            "categorical",
        )
        chart.axes([float(i) for i in range(len(axis.categories))], axis.categories)
    else:
        log = axis.kind == "log"
        xb = _range_bounds(axis) or _bounds(axis.x, log)
        label = f"{axis.name} (log scale)" if log else axis.name
        chart = _Chart.framed(axis.name, xb, ys, (label, metric), axis.kind, x_log=log)
        ticks = log_ticks(*xb) if log else nice_ticks(*xb)
        if axis.integer:
            ticks = [t for t in ticks if float(t).is_integer()] or ticks
        chart.axes(ticks)
    chart.markers(found, axis.x, legend=False)
    return chart.render()
