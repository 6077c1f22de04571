"""The cheapest benchmarks, end to end with tiny counts on the test broker, so bench/ cannot silently rot.

Asserts that numbers come out (and the JSON and table are written), never how fast anything is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import run


def test_quick_benchmarks_produce_numbers_json_and_a_table(
    running_broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ORDER_DESK_BOOTSTRAP_SERVERS", running_broker.bootstrap_servers)
    output = tmp_path / "latest.json"

    code = run.main(["--quick", "--reps", "1", "--only", "e2e,projection,command", "--output", str(output),
                     "--workdir", str(tmp_path / "work")])

    table = capsys.readouterr().out
    assert code == 0, table
    document = json.loads(output.read_text())
    assert document["meta"]["mode"] == "quick" and document["meta"]["broker"]["embedded"] is False
    benchmarks = document["benchmarks"]
    assert sorted(benchmarks) == ["command", "e2e", "projection"]
    for name, result in benchmarks.items():
        assert result["complete"] and result["error"] is None, name
        for row in result["rows"]:
            assert row["app"]["median"] > 0, (name, row["metric"])
            if row["baseline"] is not None:
                assert row["baseline"]["median"] > 0 and row["ratio"]["median"] > 0, (name, row["metric"])
    assert [row["metric"] for row in benchmarks["e2e"]["rows"]] == ["p50", "p95", "p99", "max"]
    assert benchmarks["projection"]["params"]["zipf_view_rows"] > 0
    assert benchmarks["projection"]["params"]["cancels_orders_cancelled"] > 0
    assert [row["metric"] for row in benchmarks["projection"]["rows"]] == [
        "zipf: events/s", "uniform: events/s", "zipf, 5% cancelled: events/s"]
    assert "| 1. End-to-end latency | p99 (ms) |" in table
    assert "| 2. Projection throughput | uniform: events/s (events/s) |" in table
    assert "| 2. Projection throughput | zipf, 5% cancelled: events/s (events/s) |" in table
    assert "| 3. Command throughput | bulk place_orders ×500 (orders/s) |" in table
