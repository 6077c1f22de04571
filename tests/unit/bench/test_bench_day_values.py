"""bench/day_values.py runs end to end on a few orders (its figures are read, never judged)."""

from __future__ import annotations

from bench import day_values


def test_the_chart_benchmark_runs_and_checks_its_sums(capsys) -> None:
    day_values.main(["--orders", "300", "--repeats", "1"])
    printed = capsys.readouterr().out
    assert "| day_values() |" in printed and "| the same summed in SQL (json_each), banded after |" in printed
