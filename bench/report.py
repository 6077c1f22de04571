"""Results: numbers per repetition, their median and spread, ratios to the same-run baseline, targets.

A benchmark returns a `BenchResult` of `Row`s. Each row holds one value per repetition for the app and,
when it has one, for the baseline measured in the same repetition; the ratio is app / baseline per
repetition, then its median. JSON keeps every value; the markdown table shows medians with min-max.
"""

from __future__ import annotations

import math
import operator
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

_OPS = {"<=": operator.le, ">=": operator.ge}


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = math.ceil(round(fraction * len(ordered), 9))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @property
    def relative(self) -> float:
        """(max - min) / median: how far apart the repetitions were."""
        return (self.high - self.low) / self.median if self.median else 0.0

    def as_json(self) -> dict[str, float]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n,
                "spread_pct": round(100 * self.relative, 1)}


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no values")
    return Spread(statistics.median(values), min(values), max(values), len(values))


@dataclass(frozen=True)
class Target:
    """`op value` on the app's median (on="app") or on the median ratio app / baseline (on="ratio")."""

    op: Literal["<=", ">="]
    value: float
    on: Literal["app", "ratio"] = "app"

    def met(self, app: float, ratio: float | None) -> bool | None:
        subject = app if self.on == "app" else ratio
        return None if subject is None else _OPS[self.op](subject, self.value)

    def describe(self, unit: str) -> str:
        return f"{self.op} {self.value:g}× baseline" if self.on == "ratio" else f"{self.op} {self.value:g} {unit}"


@dataclass
class Row:
    metric: str
    unit: str
    app: list[float] = field(default_factory=list)
    baseline: list[float] | None = None
    targets: tuple[Target, ...] = ()

    def add(self, app: float, baseline: float | None = None) -> None:
        self.app.append(float(app))
        if baseline is not None:
            if self.baseline is None:
                self.baseline = []
            self.baseline.append(float(baseline))

    @property
    def ratios(self) -> list[float]:
        if not self.baseline:
            return []
        return [a / b for a, b in zip(self.app, self.baseline, strict=True) if b]

    def summary(self) -> dict[str, Any]:
        app = spread(self.app)
        ratio = spread(self.ratios) if self.ratios else None
        met = [target.met(app.median, ratio.median if ratio else None) for target in self.targets]
        return {
            "metric": self.metric,
            "unit": self.unit,
            "app": app.as_json() | {"values": self.app},
            "baseline": spread(self.baseline).as_json() | {"values": self.baseline} if self.baseline else None,
            "ratio": ratio.as_json() | {"values": self.ratios} if ratio else None,
            "targets": [
                {"op": t.op, "value": t.value, "on": t.on, "met": m} for t, m in zip(self.targets, met, strict=True)
            ],
            "met": None if not self.targets else all(m is True for m in met),
        }


@dataclass
class BenchResult:
    name: str
    title: str
    baseline: str  # what the baseline is, in a few words
    rows: list[Row] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def row(self, metric: str, unit: str, *targets: Target) -> Row:
        for existing in self.rows:
            if existing.metric == metric:
                return existing
        row = Row(metric, unit, targets=targets)
        self.rows.append(row)
        return row

    @property
    def complete(self) -> bool:
        """Every row has a finite number for every repetition (and a baseline where one is declared)."""
        if self.error or not self.rows:
            return False
        for row in self.rows:
            if not row.app or not all(math.isfinite(v) for v in row.app):
                return False
            if row.baseline is not None and len(row.baseline) != len(row.app):
                return False
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "baseline": self.baseline,
            "params": self.params,
            "rows": [row.summary() for row in self.rows if row.app],
            "notes": self.notes,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "complete": self.complete,
        }


def _number(value: float, unit: str) -> str:
    if unit in ("events/s", "orders/s", "records/s"):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _cell(data: dict[str, Any] | None, unit: str) -> str:
    if not data:
        return "–"
    text = _number(data["median"], unit)
    if data["n"] > 1:
        text += f" ({_number(data['min'], unit)}–{_number(data['max'], unit)})"
    return text


def markdown_table(results: Sequence[BenchResult]) -> str:
    """One line per metric: medians with (min–max) over the repetitions, the ratio, the target and verdict."""
    lines = [
        "| Benchmark | Metric | App | Baseline | App ÷ baseline | Target | Met |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        if result.error:
            lines.append(f"| {result.title} | – | failed: {result.error.splitlines()[0][:80]} | | | | no |")
            continue
        for row in result.rows:
            if not row.app:
                continue
            summary = row.summary()
            ratio = summary["ratio"]
            ratio_text = f"{ratio['median']:.2f}×" + (
                f" ({ratio['min']:.2f}–{ratio['max']:.2f})" if ratio["n"] > 1 else "") if ratio else "–"
            target = ", ".join(t.describe(row.unit) for t in row.targets) or "–"
            met = {True: "yes", False: "**no**", None: "–"}[summary["met"]]
            lines.append(
                f"| {result.title} | {row.metric} ({row.unit}) | {_cell(summary['app'], row.unit)} | "
                f"{_cell(summary['baseline'], row.unit)} | {ratio_text} | {target} | {met} |"
            )
    return "\n".join(lines)


def baselines_legend(results: Sequence[BenchResult]) -> str:
    return "\n".join(f"- **{r.title}**: baseline = {r.baseline}." for r in results if r.baseline)
