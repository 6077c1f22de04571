"""The projector against a temp SQLite file: aggregation, duplicates, quarantine, one transaction."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from desktop_app import contracts
from desktop_app.query import projector as projector_module
from desktop_app.query.bands import Band, price_band
from desktop_app.query import order_book
from desktop_app.query.projector import Projector
from desktop_app.query.schema import PROJECTION_VERSION, ensure_schema, open_engine
from desktop_app.query.views import ReadModel

from query_unit_helpers import TOPIC, RecordFactory, order

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def view(read_model: ReadModel) -> dict[tuple[str, str, int], tuple[str, int, int, datetime, datetime]]:
    return {
        (r.customer_id, r.item, r.unit_price_pence): (r.band.value, r.quantity, r.orders, r.first_ordered, r.last_ordered)
        for r in read_model.items()
    }


def test_same_item_same_price_sums_quantity_and_orders(projector, read_model, records) -> None:
    projector.apply([records.event(order("alice", ("Tea", 350, 2), at=T0))])
    projector.apply([records.event(order("alice", ("Tea", 350, 3), at=T0 + timedelta(hours=1)))])

    assert view(read_model) == {("alice", "Tea", 350): ("cheap", 5, 2, T0, T0 + timedelta(hours=1))}


def test_same_item_at_another_price_is_another_row(projector, read_model, records) -> None:
    outcome = projector.apply([
        records.event(order("alice", ("Tea", 350, 1), at=T0)),
        records.event(order("alice", ("Tea", 650, 4), at=T0)),
    ])

    assert view(read_model) == {
        ("alice", "Tea", 350): ("cheap", 1, 1, T0, T0),
        ("alice", "Tea", 650): ("affordable", 4, 1, T0, T0),
    }
    assert outcome.changed_keys == {("alice", Band.CHEAP), ("alice", Band.AFFORDABLE)}
    assert outcome.applied == 2


def test_two_lines_of_one_order_for_the_same_item_count_as_one_order(projector, read_model, records) -> None:
    projector.apply([records.event(order("bob", ("Mug", 800, 1), ("Mug", 800, 2), ("Cup", 800, 1), at=T0))])

    assert view(read_model) == {
        ("bob", "Mug", 800): ("affordable", 3, 1, T0, T0),
        ("bob", "Cup", 800): ("affordable", 1, 1, T0, T0),
    }


def test_first_and_last_order_times_follow_occurred_at_not_arrival(projector, read_model, records) -> None:
    late, early, middle = T0 + timedelta(days=2), T0, T0 + timedelta(days=1)
    projector.apply([records.event(order("carol", ("Pen", 100, 1), at=late))])
    projector.apply([records.event(order("carol", ("Pen", 100, 1), at=early))])
    projector.apply([records.event(order("carol", ("Pen", 100, 1), at=middle.astimezone(timezone(timedelta(hours=5)))))])

    (row,) = read_model.items()
    assert (row.first_ordered, row.last_ordered, row.orders) == (early, late, 3)


@pytest.mark.parametrize(
    ("pence", "band"),
    [(499, Band.CHEAP), (500, Band.AFFORDABLE), (5000, Band.AFFORDABLE), (5001, Band.EXPENSIVE)],
)
def test_rows_carry_the_band_of_their_unit_price(projector, read_model, records, pence, band) -> None:
    projector.apply([records.event(order("dan", ("Thing", pence, 1)))])

    (row,) = read_model.items()
    assert row.band is band
    assert read_model.items(band=band) == [row]
    assert [b for b in Band if read_model.count_items(band=b)] == [band]


def test_duplicate_event_in_a_later_batch_changes_nothing(projector, read_model, records) -> None:
    event = order("erin", ("Lamp", 2500, 2))
    projector.apply([records.event(event, partition=1)])
    before = view(read_model)

    outcome = projector.apply([records.event(event, partition=1)])

    assert view(read_model) == before
    assert (outcome.applied, outcome.duplicates, outcome.changed_keys) == (0, 1, frozenset())
    assert read_model.events_applied() == 1
    assert projector.stored_offsets() == {1: 2}  # the duplicate's offset is still consumed


def test_duplicate_event_within_one_batch_counts_once(projector, read_model, records) -> None:
    event = order("erin", ("Lamp", 2500, 2))
    outcome = projector.apply([records.event(event, 0), records.event(event, 2), records.event(event, 0)])

    assert view(read_model) == {("erin", "Lamp", 2500): ("affordable", 2, 1, event.occurred_at, event.occurred_at)}
    assert (outcome.applied, outcome.duplicates) == (1, 2)
    assert projector.stored_offsets() == {0: 2, 2: 1}


def _valid_json_with(**changes) -> bytes:
    body = json.loads(contracts.encode(order("x", ("Thing", 100, 1))).value)
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split("__")
        for name in parents:
            target = target[name]
        target[leaf] = value
    return json.dumps(body).encode()


MALFORMED = [
    # (value, headers, expected words in the reason)
    (b"\xff\xfe\x00garbage", (), "not UTF-8"),
    (b"{this is not json", (), "invalid JSON"),
    (None, (), "tombstone"),
    (_valid_json_with(event_type="OrderShipped"), (), "unknown event type"),
    (_valid_json_with(event_type="OrderCancelled"), (), "contract violation at payload"),  # an order's body
    (_valid_json_with(), (("event_type", b"OrderShipped"),), "unknown event type"),
    (_valid_json_with(schema_version=2), (), "unknown schema version"),
    (_valid_json_with(), (("event_type", b"OrderPlaced"), ("schema_version", b"9")), "unknown schema version"),
    (_valid_json_with(payload__lines=[{"item": "X", "unit_price_pence": -5, "quantity": 1}]), (), "contract violation"),
    (_valid_json_with(payload__lines=[]), (), "contract violation"),
    (_valid_json_with(payload__customer_id=""), (), "contract violation"),
    (_valid_json_with(event_id="not-a-uuid"), (), "contract violation"),
    (_valid_json_with(occurred_at="2025-01-01T00:00:00"), (), "contract violation"),  # naive time
    (_valid_json_with(occurred_at="0001-01-01T00:00:00+01:00"), (), "out of range"),
    (b"[1, 2, 3]", (), "contract violation"),
]


def test_malformed_records_are_quarantined_and_valid_ones_projected(projector, read_model, records) -> None:
    batch, valid = [], []
    for number, (value, headers, _) in enumerate(MALFORMED):
        event = order(f"c{number % 3}", (f"item{number}", 100 + number * 450, number + 1))
        valid.append(event)
        batch.append(records.event(event, partition=number % 2))
        batch.append(records.raw(value, headers, partition=number % 2))

    outcome = projector.apply(batch)

    assert (outcome.applied, outcome.quarantined) == (len(MALFORMED), len(MALFORMED))
    assert read_model.events_applied() == len(MALFORMED)
    assert sorted(view(read_model)) == sorted(
        (e.payload.customer_id, e.payload.lines[0].item, e.payload.lines[0].unit_price_pence) for e in valid
    )
    quarantined = {(q.partition, q.offset): q for q in read_model.quarantined(limit=1000)}
    assert len(quarantined) == len(MALFORMED)
    for number, (value, headers, reason_words) in enumerate(MALFORMED):
        entry = quarantined[(number % 2, 2 * (number // 2) + 1)]  # per partition: event, raw, event, raw ...
        assert reason_words in entry.reason
        assert entry.value == value
        assert entry.key == b"k"
        assert entry.headers == [(name, raw.decode()) for name, raw in headers]
    per_partition = [len(range(p, len(MALFORMED), 2)) for p in (0, 1)]
    assert projector.stored_offsets() == {0: 2 * per_partition[0], 1: 2 * per_partition[1]}


def test_a_batch_of_only_malformed_records_still_advances_offsets(projector, read_model, records) -> None:
    outcome = projector.apply([records.raw(b"nope"), records.raw(b"nope again", partition=4)])

    assert outcome.changed_keys == frozenset()
    assert projector.stored_offsets() == {0: 1, 4: 1}
    assert read_model.quarantined_count() == 2


def test_a_batch_is_one_transaction_and_a_locked_database_is_retried(db_path, records) -> None:
    engine = open_engine(db_path, writer=True, busy_timeout_ms=50)
    ensure_schema(engine)
    projector = Projector(engine, TOPIC)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    batch = [records.event(order("fay", ("Rug", 9000, 1))), records.raw(b"junk")]

    with pytest.raises(OperationalError):
        projector.apply(batch)
    blocker.execute("ROLLBACK")

    model = ReadModel(db_path)
    assert (model.items(), model.events_applied(), model.quarantined_count(), model.stored_offsets()) == ([], 0, 0, {})
    projector.apply(batch)
    assert (len(model.items()), model.events_applied(), model.quarantined_count()) == (1, 1, 1)
    assert model.stored_offsets() == {0: 2}
    blocker.close()
    model.close()
    engine.dispose()


def test_a_record_that_cannot_be_written_is_quarantined_not_retried_forever(
    projector, read_model, records, monkeypatch
) -> None:
    real_apply = order_book.apply

    def apply_failing_on_poison(connection, facts, outcome):
        if any(f.customer_id == "poison" for f in facts):
            raise RuntimeError("cannot write this one")
        return real_apply(connection, facts, outcome)

    monkeypatch.setattr(order_book, "apply", apply_failing_on_poison)
    outcome = projector.apply([
        records.event(order("gus", ("A", 100, 1))),
        records.event(order("poison", ("B", 100, 1))),
        records.event(order("hal", ("C", 100, 1))),
    ])

    assert sorted(r.customer_id for r in read_model.items()) == ["gus", "hal"]
    (entry,) = read_model.quarantined()
    assert (entry.offset, "could not be projected" in entry.reason) == (1, True)
    assert (outcome.applied, outcome.quarantined, projector.stored_offsets()) == (2, 1, {0: 3})


def test_records_of_another_topic_are_refused(projector) -> None:
    wire = contracts.encode(order("x", ("Thing", 100, 1)))
    stray = projector_module.Record("other-topic", 0, 0, wire.value, wire.key, wire.headers)
    with pytest.raises(ValueError, match="other-topic"):
        projector.apply([stray])


def test_reset_empties_the_view_and_its_tracking_state(projector, read_model, records) -> None:
    projector.apply([records.event(order("ivy", ("Hat", 1200, 1))), records.raw(b"junk")])

    projector.reset()

    assert (read_model.items(), read_model.events_applied(), read_model.quarantined_count()) == ([], 0, 0)
    assert projector.stored_offsets() == {}
    assert read_model.projection_version() == PROJECTION_VERSION


# -- property: any batching, any duplicates, same view as counting the unique events by hand --------

lines = st.lists(
    st.tuples(st.sampled_from(["Tea", "Mug", "Lamp"]), st.sampled_from([1, 499, 500, 5000, 5001, 99999]),
              st.integers(1, 50)),
    min_size=1, max_size=4,
)
events = st.lists(
    st.tuples(st.sampled_from(["ann", "ben", "cy"]), lines, st.integers(0, 10_000)), min_size=1, max_size=25
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=events, data=st.data())
def test_any_batching_with_duplicates_equals_counting_unique_events(events, data) -> None:
    unique = [order(c, *ls, at=T0 + timedelta(minutes=m)) for c, ls, m in events]
    stream = list(unique) + data.draw(st.lists(st.sampled_from(unique), max_size=10))
    stream = data.draw(st.permutations(stream))
    factory = RecordFactory()
    wire = [factory.event(e, partition=data.draw(st.integers(0, 2))) for e in stream]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=5)))

    expected: dict = defaultdict(lambda: [0, 0, None, None])
    for event in unique:
        per_order: dict = defaultdict(int)
        for line in event.payload.lines:
            per_order[(line.item, line.unit_price_pence)] += line.quantity
        for (item, price), quantity in per_order.items():
            row = expected[(event.payload.customer_id, item, price)]
            row[0] += quantity
            row[1] += 1
            row[2] = min(filter(None, [row[2], event.occurred_at]))
            row[3] = max(filter(None, [row[3], event.occurred_at]))

    with tempfile.TemporaryDirectory() as folder:
        engine = open_engine(Path(folder) / "readmodel.db", writer=True)
        ensure_schema(engine)
        projector = Projector(engine, TOPIC)
        for start, end in zip([0, *cuts], [*cuts, len(wire)]):
            projector.apply(wire[start:end])
        model = ReadModel(Path(folder) / "readmodel.db")
        assert view(model) == {
            key: (price_band(key[2]).value, q, n, first, last) for key, (q, n, first, last) in expected.items()
        }
        assert model.events_applied() == len(unique)
        model.close()
        engine.dispose()
