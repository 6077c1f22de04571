"""Kill the app: the headless desk (relay + projector) is SIGKILLed at random moments while orders stream in.

Promise tested: an accepted order is never lost and never counted twice. After every restart the desk
publishes what its outbox holds and catches its view up; then
  * every order the desk reported as accepted is in the log, as exactly one event (one event_id);
  * the desk's view equals a fresh replay of the log, and both equal the view computed here from the
    log's distinct events.
The relay is at-least-once by design (see desktop_app/command/relay.py): a crash between the broker's
ack and the outbox noting it may put a second copy of an event in the log. That is allowed; counting it
twice is not. The number of such copies is reported.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path

import pytest

from desktop_app.query.views import ReadModel
from desktop_app.settings import Settings
from support.desk_driver import DeskProcess
from support.log_audit import audit, expected_view, full_rows, read_log, replay_fresh, view_totals
from support.order_stream import order_fields

START_S = 90.0  # bound of a desk start-up
SYNC_S = 120.0  # bound of publishing the outbox and catching the view up after a restart


def kill_moment(rng: random.Random, orders: int) -> tuple[int, float]:
    """When to kill: after the k-th accepted order (mid-stream, 3 times in 4), or a moment after the
    last one (relay and projector still busy): (k, seconds to wait then)."""
    if rng.random() < 0.75:
        return rng.randint(1, orders - 1), 0.0
    return orders, round(rng.uniform(0.0, 0.5), 3)


def wait_until(condition, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.001)


def check_after_restart(settings: Settings, data_dir: Path, fresh_dir: Path, accepted: dict[str, str]) -> int:
    """The promises, checked against the whole log. Returns the number of duplicate records in the log."""
    client_kwargs = settings.kafka_client_kwargs()
    log = audit(asyncio.run(read_log(client_kwargs, settings.topic)))
    assert not log.malformed, f"the desk wrote malformed records at {log.malformed[:5]}"

    lost = [command for command in accepted if command not in log.event_ids_by_command]
    assert not lost, f"{len(lost)} accepted orders are not in the log, e.g. {lost[:5]}"
    assert not log.commands_with_several_events(), "a command became more than one event"
    wrong = [c for c, event_id in accepted.items() if log.event_ids_by_command[c] != {uuid.UUID(event_id)}]
    assert not wrong, f"the log holds another event than the receipt for {wrong[:5]}"

    read_model = ReadModel(data_dir / "readmodel.db")
    try:
        desk_rows = read_model.items()
    finally:
        read_model.close()
    fresh_rows = replay_fresh(client_kwargs, settings.topic, fresh_dir)
    assert view_totals(desk_rows) == expected_view(log.events.values()), "the desk's view miscounts the log"
    assert full_rows(desk_rows) == full_rows(fresh_rows), "the desk's view differs from a fresh replay"
    return log.duplicate_records


@pytest.mark.parametrize(
    ("kills", "orders_per_run"),
    [
        pytest.param(3, 150, id="short"),
        pytest.param(20, 300, id="full", marks=[pytest.mark.slow, pytest.mark.timeout(1800)]),
    ],
)
def test_killed_app_loses_no_accepted_order_and_counts_each_once(
    topic_ready: Settings, tmp_path: Path, kills: int, orders_per_run: int, report
) -> None:
    settings = topic_ready
    data_dir = tmp_path / "desk"
    rng = random.Random(f"kill-app-{kills}")
    accepted: dict[str, str] = {}  # command id -> event id, as the desk reported them
    kill_points: list[tuple[int, float]] = []  # (orders accepted in that run, seconds waited after the k-th)
    duplicates = 0

    for run in range(kills + 1):
        desk = DeskProcess(data_dir, settings.bootstrap_servers, settings.topic, settings.partitions)
        try:
            desk.wait_for("ready", START_S)
            desk.send({"op": "sync", "timeout": SYNC_S})
            synced = desk.wait_for("synced", SYNC_S + 30)
            assert synced == {"op": "synced", "pending": 0, "caught_up": True, "lag": 0}, f"run {run}: {synced}"
            duplicates = check_after_restart(settings, data_dir, tmp_path / f"fresh-{run}", accepted)
            if run == kills:
                assert desk.close() == 0
                break

            desk.send(*[{"op": "place", **order_fields(rng, f"run{run}-order{n}")} for n in range(orders_per_run)])
            moment = kill_moment(rng, orders_per_run)
            wait_until(lambda: len(desk.accepted_so_far()) >= min(moment[0], orders_per_run), START_S,
                       f"run {run}: the desk did not accept {moment[0]} orders")
            time.sleep(moment[1])
            desk.kill()
            kill_points.append((len(desk.accepted), moment[1]))
            for answer in desk.accepted:
                assert answer["status"] == "accepted"
                accepted[answer["command_id"]] = answer["event_id"]
        finally:
            if desk.process.poll() is None:
                desk.kill()

    mid_stream = sum(1 for count, _ in kill_points if count < orders_per_run)
    assert mid_stream > 0, f"every kill came after all orders of its run were accepted: {kill_points}"
    report(f"{kills} kills at (orders accepted, s after) {kill_points}; {len(accepted)} accepted orders "
           f"checked; {duplicates} duplicate records in the log (re-sent after a crash, counted once)")
