"""Ctrl-C during `order-desk rebuild` against the real broker: the rebuild is cancelled, not finished.

(A rebuild followed inside the CLI's event loop heard a Ctrl-C only after it had swapped the new view in, and
then said "interrupted".)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from desktop_app.settings import Settings

from query_live_helpers import interrupt_when, order, produce_events


def order_desk(settings: Settings, *args: str) -> list[str]:
    return [sys.executable, "-m", "desktop_app", "--data-dir", str(settings.data_dir), "--bootstrap-servers",
            settings.bootstrap_servers, "--topic", settings.topic, *args]


def view_files(data_dir: Path) -> dict[str, str]:
    """The view's generations and what the pointer names."""
    found = {path.name: "" for path in data_dir.glob("readmodel*.db")}
    pointer = data_dir / "readmodel.current"
    found["readmodel.current"] = pointer.read_text() if pointer.exists() else "(none)"
    return found


def test_ctrl_c_during_a_cli_rebuild_cancels_it_and_leaves_the_view_as_it_was(topic_ready) -> None:
    produce_events(topic_ready, [order(f"c{i % 50}", ("Tea", 350, 1), ("Rug", 9000, 1)) for i in range(20_000)])
    topic_ready.data_dir.mkdir(parents=True, exist_ok=True)
    caught_up = subprocess.run(order_desk(topic_ready, "summary", "--json"), capture_output=True, text=True,
                               timeout=180)
    assert caught_up.returncode == 0, caught_up.stderr
    before = view_files(topic_ready.data_dir)

    code, out, err = interrupt_when(order_desk(topic_ready, "rebuild"),
                                    lambda: view_files(topic_ready.data_dir).keys() != before.keys())  # a shadow
    assert code == 130 and "order-desk: interrupted" in err, err
    assert "Rebuilt" not in out
    assert view_files(topic_ready.data_dir) == before  # no new generation swapped in, no shadow left
