"""The geometry of small server-rendered SVG charts: one bar or point per day, a y axis with round
ticks, and labels for some of the days (pure: no Flask, no database)."""

import math
from dataclasses import dataclass
from datetime import date

WIDTH = 640
HEIGHT = 220
# Room for the y-axis labels on the left and the day labels below the plot.
LEFT = 64
RIGHT = 8
TOP = 12
BOTTOM = 28
TICKS = 4
MAX_DAY_LABELS = 8


@dataclass(frozen=True)
class Bar:
    day: date
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Point:
    day: date
    value: int
    x: float
    y: float


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class DayLabel:
    day: date
    x: float


@dataclass(frozen=True)
class Chart:
    """A chart ready to draw: `bars` for kind "bars", `points` (and `polyline`) for "line"."""

    kind: str
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    bars: tuple[Bar, ...]
    points: tuple[Point, ...]
    ticks: tuple[Tick, ...]
    day_labels: tuple[DayLabel, ...]

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def nice_step(rough: float, minimum: int = 1) -> int:
    """The smallest of 1, 2, 5 x 10^k (and at least `minimum`) that is >= rough."""
    step = minimum
    while True:
        for factor in (1, 2, 5):
            if step * factor >= rough:
                return step * factor
        step *= 10


def _scale(values: list[int], minimum_step: int) -> tuple[int, tuple[int, ...]]:
    """The top of the y axis and its ticks: round steps from 0 to the first at or above the
    largest value (at most TICKS steps)."""
    largest = max(values, default=0)
    step = nice_step(largest / TICKS, minimum_step)
    steps = max(1, math.ceil(largest / step))
    return step * steps, tuple(step * i for i in range(steps + 1))


def build_chart(series: list[tuple[date, int]], kind: str = "bars", minimum_step: int = 1) -> Chart:
    """Lay out one value per day (oldest first) as bars or as a line with a point per day.

    `minimum_step` keeps tick values round in the series' unit (100 for fen: whole yuan).
    """
    if kind not in ("bars", "line"):
        raise ValueError(f"unknown chart kind {kind!r}")
    plot_right, plot_bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    plot_width, plot_height = plot_right - LEFT, plot_bottom - TOP
    top_value, tick_values = _scale([value for _, value in series], minimum_step)
    slot = plot_width / max(len(series), 1)

    def y_of(value: int) -> float:
        return plot_bottom - plot_height * value / top_value

    bars: list[Bar] = []
    points: list[Point] = []
    for index, (day, value) in enumerate(series):
        middle = LEFT + slot * (index + 0.5)
        if kind == "bars":
            width = slot * 0.7
            y = y_of(value)
            bars.append(Bar(day, value, middle - width / 2, y, width, plot_bottom - y))
        else:
            points.append(Point(day, value, middle, y_of(value)))
    every = -(-len(series) // MAX_DAY_LABELS) or 1
    # Label the newest day always, then every `every`-th day back from it.
    labels = tuple(
        DayLabel(day, LEFT + slot * (index + 0.5))
        for index, (day, _value) in enumerate(series)
        if (len(series) - 1 - index) % every == 0
    )
    return Chart(
        kind=kind,
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=plot_right,
        plot_top=TOP,
        plot_bottom=plot_bottom,
        bars=tuple(bars),
        points=tuple(points),
        ticks=tuple(Tick(value, y_of(value)) for value in tick_values),
        day_labels=labels,
    )
