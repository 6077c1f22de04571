"""A damaged read model heals itself: real SQLite files damaged on disk, the real broker, the real CLI.

The read model is a cache of the log: when its file is found damaged it is moved aside (kept), readers are
told so in one line, and the view is rebuilt from the log with no manual step.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import desktop_app
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.service import ViewUnavailable
from desktop_app.settings import Settings
from support.log_audit import full_rows, replay_fresh

from query_live_helpers import WAIT_S, order, produce, produce_events, wait_for

ROOT = Path(desktop_app.__file__).resolve().parents[1]
CUSTOMERS = [f"cust-{i:02d}" for i in range(12)]


def order_desk(settings: Settings, *argv: str) -> subprocess.CompletedProcess[str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # read commands refuse a data dir that does not exist
    command = [sys.executable, "-m", "desktop_app", "--data-dir", str(settings.data_dir),
               "--bootstrap-servers", settings.bootstrap_servers, "--topic", settings.topic, *argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT_S * 4)


def some_orders(count: int, start: int = 0) -> list:
    return [order(CUSTOMERS[i % len(CUSTOMERS)], (f"item-{i % 37}", 100 + (i * 7919) % 9000, 1 + i % 3))
            for i in range(start, start + count)]


def checkpoint(db_path: Path) -> None:
    """Move the WAL's pages into the database file, so damage to the file reaches what readers see."""
    raw = sqlite3.connect(db_path, timeout=30)
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def overwrite_pages(db_path: Path, first_fraction: float, last_fraction: float) -> None:
    size = db_path.stat().st_size
    start, end = int(size * first_fraction), int(size * last_fraction)
    with open(db_path, "r+b") as file:
        file.seek(start)
        file.write(bytes((i * 131 + 7) % 256 for i in range(end - start)))
        file.flush()
        os.fsync(file.fileno())


def damage(db_path: Path, how: str) -> None:
    checkpoint(db_path)
    if how == "truncated to half":
        with open(db_path, "r+b") as file:
            file.truncate(db_path.stat().st_size // 2)
    elif how == "header overwritten":
        with open(db_path, "r+b") as file:
            file.write(b"\x00" * 100)
    else:
        raise ValueError(how)


@pytest.fixture
def projected(topic_ready: Settings) -> tuple[Settings, dict, list]:
    """600 orders and one junk record in the log, projected by a CLI command; (settings, summary, items)."""
    produce_events(topic_ready, some_orders(600))
    produce(topic_ready, [(b"k", b"junk", [])])
    summary = order_desk(topic_ready, "summary", "--json")
    assert summary.returncode == 0, summary.stderr
    items = order_desk(topic_ready, "items", "--json", "--no-sync")
    assert items.returncode == 0, items.stderr
    expected_summary = json.loads(summary.stdout)
    assert (expected_summary["events_applied"], expected_summary["quarantined"]) == (600, 1)
    return topic_ready, expected_summary, json.loads(items.stdout)


@pytest.mark.parametrize("how", ["truncated to half", "header overwritten"])
def test_summary_on_a_damaged_read_model_says_so_in_one_line_and_shows_a_fresh_replay(projected, how) -> None:
    settings, expected_summary, expected_items = projected
    damage(settings.readmodel_db_path, how)

    done = order_desk(settings, "summary", "--json")

    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert line.startswith(f"order-desk: read model {settings.readmodel_db_path} was damaged (")
    assert "moved aside to readmodel.damaged-" in line and line.endswith("; rebuilding from the log")
    assert json.loads(done.stdout) == expected_summary
    items = order_desk(settings, "items", "--json", "--no-sync")
    assert (items.returncode, json.loads(items.stdout)) == (0, expected_items)
    (aside,) = settings.data_dir.glob("readmodel.damaged-*.db")  # kept for support
    assert aside.stat().st_size > 0


def test_rebuild_works_whatever_state_the_current_file_is_in(projected) -> None:
    settings, expected_summary, expected_items = projected
    damage(settings.readmodel_db_path, "header overwritten")

    done = order_desk(settings, "rebuild")

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Rebuilt the read model from 601 events in ")
    items = order_desk(settings, "items", "--json", "--no-sync")
    assert (items.returncode, json.loads(items.stdout)) == (0, expected_items)


def test_a_reader_of_a_damaged_view_is_told_in_one_line_and_creates_nothing(projected) -> None:
    settings, _, _ = projected
    damage(settings.readmodel_db_path, "header overwritten")
    done = order_desk(settings, "summary", "--json")  # heals: the view is fine again
    assert done.returncode == 0, done.stderr
    current = (settings.data_dir / "readmodel.current").read_text().strip()
    (settings.data_dir / current).unlink()
    (settings.data_dir / "readmodel.healing").write_text("the view is being rebuilt (test)\n")

    offline = order_desk(settings, "items", "--json", "--no-sync")

    assert offline.returncode == 1 and offline.stdout == ""
    assert offline.stderr.strip().splitlines() == ["order-desk: the view is being rebuilt (test)"]
    assert not (settings.data_dir / current).exists()


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_pages_overwritten_under_a_projecting_service_quarantine_nothing_and_heal(
    topic_ready: Settings, start_service, tmp_path: Path, isolation: str
) -> None:
    produce_events(topic_ready, some_orders(800))
    produce(topic_ready, [(b"k", b"junk", [])])
    service = start_service(options=ProjectorOptions(isolation=isolation))
    assert service.catch_up(WAIT_S)
    damaged_file = service.view_path
    checkpoint(damaged_file)
    overwrite_pages(damaged_file, 0.3, 0.7)
    produce_events(topic_ready, some_orders(200, start=800))

    def healed_and_caught_up() -> bool:
        try:
            service.summary()  # a read that meets the damage starts the heal
        except ViewUnavailable as exc:
            assert "damaged" in str(exc)
            return False
        return service.health is None and service.catch_up(5.0) and service.summary().events_applied == 1000

    assert wait_for(healed_and_caught_up, timeout=WAIT_S * 3, interval=0.2), service.health
    assert service.view_path != damaged_file
    reasons = [row.reason for row in service.quarantined()]
    assert len(reasons) == 1 and "could not be projected" not in reasons[0]  # only the junk record
    assert service.stored_offsets() == service.end_offsets()
    fresh = replay_fresh(topic_ready.kafka_client_kwargs(), topic_ready.topic, tmp_path / "fresh")
    assert full_rows(service.items()) == full_rows(fresh)
    assert list(topic_ready.data_dir.glob(f"{damaged_file.stem}.damaged-*.db"))


def test_a_reader_that_does_not_project_says_in_one_line_that_the_file_is_damaged(projected) -> None:
    settings, expected_summary, _ = projected
    damage(settings.readmodel_db_path, "truncated to half")

    offline = order_desk(settings, "summary", "--no-sync")

    assert offline.returncode == 1 and offline.stdout == ""
    lines = offline.stderr.strip().splitlines()
    assert len(lines) == 1, offline.stderr
    (line,) = lines
    assert line.startswith(f"order-desk: read model {settings.readmodel_db_path} is damaged (database disk image")
    assert "rebuilds it from the log" in line
    healed = order_desk(settings, "summary", "--json")  # the next synced command heals it
    assert (healed.returncode, json.loads(healed.stdout)) == (0, expected_summary)


def test_a_heal_whose_rebuild_is_cancelled_starts_again(projected, start_service) -> None:
    settings, expected_summary, expected_items = projected
    damage(settings.readmodel_db_path, "header overwritten")
    service = start_service()
    assert "was damaged (file is not a database)" in (service.health or "")

    cancelled = service.rebuild(cancel=lambda: True)  # follows the heal's rebuild, and cancels it

    assert not cancelled.completed
    assert wait_for(lambda: service.health is None, timeout=WAIT_S), service.health
    assert service.catch_up(WAIT_S)
    assert service.summary().events_applied == expected_summary["events_applied"]
    assert len(service.items()) == len(expected_items)


def overwrite_root_page(db_path: Path, name: str) -> None:
    raw = sqlite3.connect(db_path, timeout=30)
    try:
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        (root,) = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    finally:
        raw.close()
    with open(db_path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5" * page_size)


def projecting_with_a_damaged_index(topic_ready: Settings, start_service):
    """600 orders projected by a service, then the root page of the band index overwritten: reads by band
    would miss rows. Returns (the projecting service, the damaged file)."""
    produce_events(topic_ready, some_orders(600))
    projecting = start_service()
    assert projecting.catch_up(WAIT_S)
    damaged_file = projecting.view_path
    checkpoint(damaged_file)
    overwrite_root_page(damaged_file, "ix_ordered_items_band_customer_item")
    return projecting, damaged_file


def test_a_reader_finds_a_damaged_index_and_the_projecting_process_heals_it(
    topic_ready: Settings, start_service, tmp_path: Path
) -> None:
    projecting, damaged_file = projecting_with_a_damaged_index(topic_ready, start_service)  # reads by band would miss rows

    reader = start_service()

    assert not reader.is_projecting
    assert reader.health is not None and "is damaged" in reader.health
    assert wait_for(lambda: projecting.health is None and projecting.view_path != damaged_file, timeout=WAIT_S * 2)
    assert reader.catch_up(WAIT_S)
    fresh = replay_fresh(topic_ready.kafka_client_kwargs(), topic_ready.topic, tmp_path / "fresh")
    assert full_rows(reader.items(band="cheap")) == full_rows(row for row in fresh if row.band.value == "cheap")
    assert full_rows(reader.items()) == full_rows(fresh)
    assert reader.health is None


def test_place_wait_on_a_damaged_index_is_visible_only_once_the_view_really_shows_it(projected) -> None:
    settings, _, expected_items = projected
    checkpoint(settings.readmodel_db_path)
    overwrite_root_page(settings.readmodel_db_path, "ix_ordered_items_band_customer_item")

    placed = order_desk(settings, "place", "--customer", "zed", "--item", "Kettle", "--price", "1.25", "--qty", "1",
                        "--wait")

    assert placed.returncode == 0, placed.stderr
    assert "visible" in placed.stdout
    cheap = order_desk(settings, "items", "--band", "cheap", "--json", "--no-sync")
    assert cheap.returncode == 0, cheap.stderr
    new_row = {"customer_id": "zed", "item": "Kettle", "unit_price": "1.25", "unit_price_pence": 125, "band": "cheap",
               "quantity": 1, "orders": 1, "line_value": "1.25", "line_value_pence": 125}
    wanted = sorted([row for row in expected_items if row["band"] == "cheap"] + [new_row],
                    key=lambda row: (row["customer_id"], row["item"], row["unit_price"]))
    assert sorted(json.loads(cheap.stdout), key=lambda row: (row["customer_id"], row["item"],
                                                             row["unit_price"])) == wanted


def test_a_cli_reader_that_finds_a_damaged_index_waits_for_the_heal_and_shows_a_fresh_replay(
    topic_ready: Settings, start_service, tmp_path: Path
) -> None:
    # the window projects; `items` finds the index damaged: it said so, then failed with a second line
    # (exit 1), or read the damaged file, instead of waiting for the projecting process's heal
    projecting, damaged_file = projecting_with_a_damaged_index(topic_ready, start_service)

    cheap = order_desk(topic_ready, "items", "--band", "cheap", "--json")

    assert cheap.returncode == 0, cheap.stderr
    lines = cheap.stderr.strip().splitlines()
    assert len(lines) == 1 and "is damaged" in lines[0] and "rebuilds it from the log" in lines[0], cheap.stderr
    fresh = replay_fresh(topic_ready.kafka_client_kwargs(), topic_ready.topic, tmp_path / "fresh")
    wanted = sorted((row.customer_id, row.item, row.quantity) for row in fresh if row.band.value == "cheap")
    assert sorted((row["customer_id"], row["item"], row["quantity"]) for row in json.loads(cheap.stdout)) == wanted
    assert projecting.view_path != damaged_file



def test_a_reader_waiting_for_an_offset_beside_a_projecting_process_waits_for_the_heal(
    topic_ready: Settings, start_service
) -> None:
    # place --wait (a reader beside the window) found the file damaged, reported it, and still said
    # "visible" from the damaged file's offsets, before the projecting process had rebuilt a readable view
    produce_events(topic_ready, some_orders(3000))
    projecting = start_service()
    assert projecting.catch_up(WAIT_S)
    last = {partition: offset - 1 for partition, offset in projecting.stored_offsets().items() if offset}
    damaged_file = projecting.view_path
    checkpoint(damaged_file)
    overwrite_root_page(damaged_file, "quarantined_records")  # projecting new records does not touch it

    reader = start_service()
    assert not reader.is_projecting and reader.health is not None
    partition, offset = max(last.items())

    assert reader.wait_until_visible(partition, offset, WAIT_S * 2)
    assert projecting.view_path != damaged_file  # healed before "visible", not after
    assert reader.health is None
