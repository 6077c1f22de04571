"""`readmodel.db` deleted under a running desk (its projector in a child process, as in the window): readers
never create a read model, and the desk notices the loss and rebuilds the view from the log by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import desktop_app
from desktop_app.query.views import ReadModel
from desktop_app.settings import Settings
from support.desk_driver import DeskProcess
from support.log_audit import full_rows, replay_fresh

ROOT = Path(desktop_app.__file__).resolve().parents[1]
WAIT_S = 120.0


def order_desk(settings: Settings, data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "desktop_app", "--data-dir", str(data_dir),
               "--bootstrap-servers", settings.bootstrap_servers, "--topic", settings.topic, *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT_S)


def place(desk: DeskProcess, count: int) -> None:
    desk.send(*[
        {"op": "place", "command_id": str(uuid.uuid4()), "customer": f"cust-{i % 7}",
         "lines": [[f"item-{i % 11}", f"{1 + i % 60}.25", str(1 + i % 3)]]}
        for i in range(count)
    ])
    desk.send({"op": "sync", "timeout": WAIT_S})
    synced = desk.wait_for("synced", WAIT_S)
    assert (synced["pending"], synced["caught_up"]) == (0, True), synced


def events_in_view(data_dir: Path) -> int | None:
    model = ReadModel(data_dir / "readmodel.db")
    try:
        return model.events_applied()
    except Exception:  # noqa: BLE001 - not readable yet: the desk is rebuilding it
        return None
    finally:
        model.close()


def test_a_read_model_deleted_under_a_running_desk_is_rebuilt_and_no_reader_creates_one(
    topic_ready: Settings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "desk"
    desk = DeskProcess(data_dir, topic_ready.bootstrap_servers, topic_ready.topic, topic_ready.partitions)
    try:
        desk.wait_for("ready", WAIT_S)
        place(desk, 60)
        assert events_in_view(data_dir) == 60
        for companion in ("", "-wal", "-shm"):
            Path(f"{data_dir / 'readmodel.db'}{companion}").unlink(missing_ok=True)

        reader = order_desk(topic_ready, data_dir, "summary", "--json", "--no-sync")

        if reader.returncode == 0:  # the desk had rebuilt the view already: then it is all there
            assert json.loads(reader.stdout)["events_applied"] == 60
        else:
            assert reader.returncode == 1 and reader.stdout == ""
            (line,) = reader.stderr.strip().splitlines()
            assert "no read model" in line or "rebuilding from the log" in line, line
        assert not (data_dir / "readmodel.db").exists(), "a reader created a read model"

        deadline = time.monotonic() + WAIT_S
        while events_in_view(data_dir) != 60:
            assert time.monotonic() < deadline, "the desk did not rebuild the deleted read model"
            time.sleep(0.2)
        place(desk, 15)  # and it goes on projecting into the rebuilt view
        synced = order_desk(topic_ready, data_dir, "summary", "--json")
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["events_applied"] == 75
    finally:
        assert desk.close() == 0
    model = ReadModel(data_dir / "readmodel.db")
    try:
        desk_rows = model.items()
    finally:
        model.close()
    fresh = replay_fresh(topic_ready.kafka_client_kwargs(), topic_ready.topic, tmp_path / "fresh")
    assert full_rows(desk_rows) == full_rows(fresh)
