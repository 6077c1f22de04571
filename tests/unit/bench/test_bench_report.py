"""The benchmarks' statistics, ratios, targets and table."""

from __future__ import annotations

import math

import pytest

from bench.report import BenchResult, Target, markdown_table, percentile, spread


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([3, 1, 2], 0.0) == 1
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_spread_is_median_and_range() -> None:
    summary = spread([10.0, 30.0, 20.0])
    assert (summary.median, summary.low, summary.high, summary.n) == (20.0, 10.0, 30.0, 3)
    assert summary.relative == pytest.approx(1.0)


def test_ratios_pair_each_repetition_with_its_own_baseline() -> None:
    result = BenchResult("x", "X", "raw")
    row = result.row("rate", "events/s", Target(">=", 50.0), Target(">=", 0.5, on="ratio"))
    for app, baseline in ((60.0, 100.0), (40.0, 100.0), (30.0, 50.0)):
        row.add(app, baseline)
    summary = row.summary()
    assert row.ratios == [0.6, 0.4, 0.6]
    assert summary["ratio"]["median"] == pytest.approx(0.6)
    assert summary["app"]["median"] == 40.0
    assert [t["met"] for t in summary["targets"]] == [False, True]
    assert summary["met"] is False
    assert result.complete


def test_a_result_without_numbers_or_with_an_error_is_incomplete() -> None:
    assert not BenchResult("x", "X", "raw").complete
    failed = BenchResult("x", "X", "raw", error="boom")
    failed.row("m", "ms").add(1.0)
    assert not failed.complete
    odd = BenchResult("y", "Y", "raw")
    odd.row("m", "ms").add(math.nan)
    assert not odd.complete


def test_the_table_shows_medians_ranges_ratios_and_verdicts() -> None:
    result = BenchResult("e2e", "1. End-to-end latency", "raw")
    row = result.row("p99", "ms", Target("<=", 50.0))
    for app, baseline in ((12.0, 3.0), (14.0, 3.5), (13.0, 2.6)):
        row.add(app, baseline)
    failed = BenchResult("gui", "5. GUI stall", "idle", error="RuntimeError: no window\nmore")
    table = markdown_table([result, failed])
    assert "| 1. End-to-end latency | p99 (ms) | 13.0 (12.0–14.0) | 3.00 (2.60–3.50) | 4.00× (4.00–5.00)" in table
    assert table.splitlines()[2].endswith("| <= 50 ms | yes |")
    assert "| 5. GUI stall | – | failed: RuntimeError: no window |" in table
