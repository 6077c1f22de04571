"""Rebuild progress: rate and ETA, and how the CLI draws them."""

from __future__ import annotations

import io

import pytest

from desktop_app.cli.read_cmds import ProgressBar, progress_line, rebuild_json
from desktop_app.query.rebuild import RebuildOutcome, RebuildProgress, done_of


def test_rate_and_eta_follow_the_average_so_far() -> None:
    progress = RebuildProgress(done=300, total=1200, elapsed_s=2.0)
    assert (progress.rate, progress.eta_s, progress.fraction) == (150.0, 6.0, 0.25)


@pytest.mark.parametrize(
    ("progress", "eta"),
    [
        (RebuildProgress(0, 100, 1.0), None),  # no rate yet
        (RebuildProgress(5, 100, 0.0), None),
        (RebuildProgress(100, 100, 3.0), 0.0),
        (RebuildProgress(0, 0, 0.0), 0.0),  # an empty log is done at once
    ],
)
def test_eta_is_unknown_without_a_rate_and_zero_when_done(progress, eta) -> None:
    assert progress.eta_s == eta


def test_done_counts_each_partition_up_to_its_target_only() -> None:
    assert done_of({0: 10, 1: 50, 3: 7}, {0: 20, 1: 40, 2: 5}) == 10 + 40 + 0


def test_progress_line_shows_bar_counts_rate_and_eta() -> None:
    assert progress_line(RebuildProgress(1500, 6000, 3.0), width=10) == (
        "rebuilding [##........] 1,500/6,000 events (25%) 500 events/s, ETA 9s"
    )
    assert progress_line(RebuildProgress(0, 6000, 0.0), width=4).endswith("(0%) 0 events/s, ETA --")
    assert "ETA 2m30s" in progress_line(RebuildProgress(100, 1600, 10.0))


def test_progress_bar_on_a_pipe_prints_a_line_now_and_then_and_always_the_last() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, clock=lambda: now[0])
    for done in range(0, 101, 10):
        now[0] += 0.1
        bar(done, 100)
    bar(100, 100)  # repeated: drawn once
    bar.close()

    lines = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["0/100", "50/100", "100/100"]


def test_rebuild_json_is_the_documented_summary() -> None:
    outcome = RebuildOutcome(completed=True, done=10, total=10, seconds=1.23456, events=12, rows=4, quarantined=2)
    assert rebuild_json(outcome) == {"events": 12, "seconds": 1.235, "rows": 4, "quarantined": 2}
