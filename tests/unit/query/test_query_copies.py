"""Copies of one event id: the view is a function of the log, whatever order the partitions are read in.

The rule (contracts, "Copies of one event id"): the copy at the lowest (partition, offset) counts, a copy
with the same content is a re-send counted once, a copy with other content is quarantined naming it.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app import contracts
from desktop_app.query.bands import price_band
from desktop_app.query.projector import Projector, Record
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.views import ReadModel

from query_unit_helpers import TOPIC, RecordFactory, order

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def reusing(event: contracts.EventEnvelope, customer: str, *lines: tuple[str, int, int],
            at: datetime | None = None) -> contracts.EventEnvelope:
    """Another order that carries `event`'s event id."""
    return msgspec.structs.replace(order(customer, *lines, at=at or event.occurred_at), event_id=event.event_id)


def snapshot(db_path: Path) -> tuple[dict, set, int]:
    """(view rows, quarantined (partition, offset, reason), events applied) of one read-model file."""
    model = ReadModel(db_path)
    try:
        rows = {
            (r.customer_id, r.item, r.unit_price_pence): (r.band.value, r.quantity, r.orders, r.first_ordered,
                                                          r.last_ordered)
            for r in model.items()
        }
        quarantined = {(q.partition, q.offset, q.reason) for q in model.quarantined(limit=100_000)}
        return rows, quarantined, model.events_applied()
    finally:
        model.close()


def project(records: list[Record], cuts: list[int] = ()) -> tuple[dict, set, int]:
    """Apply the records in this order (batches cut at `cuts`) into a new read model; its snapshot."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "readmodel.db"
        engine = open_engine(path, writer=True)
        ensure_schema(engine)
        projector = Projector(engine, TOPIC)
        bounds = sorted({0, *cuts, len(records)})
        for start, end in itertools.pairwise(bounds):
            projector.apply(records[start:end])
        engine.dispose()
        return snapshot(path)


def interleave(partitions: list[list[Record]], choices: list[int]) -> list[Record]:
    """Merge per-partition streams, each kept in offset order, taking from the partition `choices` name."""
    queues = [list(p) for p in partitions if p]
    merged = []
    for choice in itertools.chain(choices, itertools.repeat(0)):
        queues = [q for q in queues if q]
        if not queues:
            return merged
        merged.append(queues[choice % len(queues)].pop(0))
    return merged


def test_a_re_send_on_the_same_partition_counts_once_even_re_encoded(projector, read_model, records) -> None:
    event = order("erin", ("Lamp", 2500, 2), at=T0)
    first = records.event(event, partition=3)
    body = json.loads(first.value)
    body["occurred_at"] = "2025-03-01T13:00:00+01:00"  # the same time, written otherwise
    resent = Record(TOPIC, 3, 1, json.dumps(body, indent=1).encode(), first.key, first.headers)

    outcome = projector.apply([first, resent])

    assert (outcome.applied, outcome.duplicates, outcome.quarantined) == (1, 1, 0)
    assert [(r.item, r.quantity, r.orders) for r in read_model.items()] == [("Lamp", 2, 1)]
    assert read_model.quarantined_count() == 0


def test_a_reused_id_on_the_same_partition_is_quarantined_naming_the_first_copy(projector, read_model,
                                                                                records) -> None:
    event = order("erin", ("Lamp", 2500, 2), at=T0)
    projector.apply([records.event(order("x", ("Pen", 100, 1))), records.event(event)])  # event at offset 1

    outcome = projector.apply([records.event(reusing(event, "erin", ("Lamp", 2500, 9)))])

    assert (outcome.applied, outcome.duplicates, outcome.quarantined) == (0, 0, 1)
    assert read_model.items(customer="erin")[0].quantity == 2
    (entry,) = read_model.quarantined()
    assert (entry.partition, entry.offset) == (0, 2)
    assert entry.reason == f"event id {event.event_id} reused: differs from the copy at partition 0 offset 1, which counts"


def test_a_lower_copy_read_later_takes_over_and_the_view_equals_a_fresh_replay(records) -> None:
    early, late = T0, T0 + timedelta(days=3)
    shared = order("bob", ("Mug", 800, 5), at=T0 + timedelta(days=1))  # keeps bob's Mug row alive
    event = order("bob", ("Mug", 800, 2), ("Tea", 350, 7), at=early)
    higher = records.event(event, partition=4)
    lower = records.event(reusing(event, "carol", ("Rug", 9000, 1), at=late), partition=1)
    other = records.event(shared, partition=4)

    read_higher_first = project([higher, other, lower], cuts=[1, 2])
    read_lower_first = project([lower, higher, other])

    rows, quarantined, applied = read_higher_first
    assert rows == {
        ("bob", "Mug", 800): ("affordable", 5, 1, shared.occurred_at, shared.occurred_at),  # first time recomputed
        ("carol", "Rug", 9000): ("expensive", 1, 1, late, late),
    }
    assert quarantined == {(4, 0, contracts.reused_id_reason(event.event_id, 1, 0))}
    assert applied == 2
    assert read_lower_first == read_higher_first


def test_copies_read_earlier_are_judged_again_when_a_lower_copy_arrives(records) -> None:
    event = order("ann", ("Tea", 350, 1), at=T0)
    other_body = reusing(event, "ann", ("Tea", 350, 4))
    p2_first = records.event(other_body, partition=2)  # counts until partition 0's copy is read
    p2_resend = records.event(other_body, partition=2)  # a re-send of it, until then
    p3_copy = records.event(event, partition=3)  # quarantined until then: then the same as the winner
    p0_copy = records.event(event, partition=0)  # counts in the end

    live = project([p2_first, p3_copy, p2_resend, p0_copy], cuts=[1, 2, 3])

    reason = contracts.reused_id_reason(event.event_id, 0, 0)
    assert live == ({("ann", "Tea", 350): ("cheap", 1, 1, T0, T0)}, {(2, 0, reason), (2, 1, reason)}, 1)
    assert project([p0_copy, p2_first, p2_resend, p3_copy]) == live


def test_three_reused_pairs_on_different_partitions_agree_in_every_interleaving(records) -> None:
    partitions: list[list[Record]] = [[], [], []]
    events = []
    for number in range(3):
        event = order(f"c{number}", ("Lamp", 2500, 7), ("Lamp", 2500, number + 1), at=T0 + timedelta(hours=number))
        twin = reusing(event, f"d{number}", ("Mug", 800 + number, 3), at=T0 - timedelta(hours=number))
        low, high = number, (number + 1) % 3  # the last pair's event is on partition 2, its twin on 0
        partitions[low].append(records.event(event, partition=low))
        partitions[high].append(records.event(twin, partition=high))
        partitions[low].append(records.event(order(f"c{number}", ("Lamp", 2500, 1), at=T0), partition=low))
        events.append(event)

    results = set()
    for order_of_partitions in itertools.permutations(range(3)):
        for choices in ([0] * 9, [1, 2] * 5, [2, 0, 1] * 3):
            stream = interleave([partitions[p] for p in order_of_partitions], choices)
            rows, quarantined, applied = project(stream, cuts=[2, 5])
            results.add((frozenset(rows.items()), frozenset(quarantined), applied))

    assert len(results) == 1
    ((rows, quarantined, applied),) = results
    reason = contracts.reused_id_reason
    # positions: pair 0 (0,0) and (1,0); pair 1 (1,1) and (2,0); pair 2 (2,1) and its twin (0,2), which counts
    assert quarantined == {
        (1, 0, reason(events[0].event_id, 0, 0)),
        (2, 0, reason(events[1].event_id, 1, 1)),
        (2, 1, reason(events[2].event_id, 0, 2)),
    }
    assert dict(rows) == {
        ("c0", "Lamp", 2500): ("affordable", 9, 2, T0, T0),
        ("c1", "Lamp", 2500): ("affordable", 10, 2, T0, T0 + timedelta(hours=1)),
        ("c2", "Lamp", 2500): ("affordable", 1, 1, T0, T0),
        ("d2", "Mug", 802): ("affordable", 3, 1, T0 - timedelta(hours=2), T0 - timedelta(hours=2)),
    }
    assert applied == 6


# -- property: any interleaving of partitions and any batching gives the view the rule defines ------

bodies = st.tuples(st.sampled_from(["ann", "ben"]), st.sampled_from(["Tea", "Mug"]),
                   st.sampled_from([350, 800, 9000]), st.integers(1, 5), st.integers(0, 50))
# copies: (which event id, which body, partition); few ids and bodies, so ids are reused and re-sent
copies = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2)), min_size=1, max_size=14)


@settings(max_examples=60, deadline=None)
@given(bodies=st.lists(bodies, min_size=4, max_size=4), copies=copies, data=st.data())
def test_any_interleaving_and_batching_gives_the_view_the_rule_defines(bodies, copies, data) -> None:
    ids = [order("id", ("X", 1, 1)).event_id for _ in range(4)]
    factory = RecordFactory()
    partitions: list[list[Record]] = [[], [], []]
    content: dict[tuple[int, int], tuple[int, contracts.EventEnvelope]] = {}
    for id_number, body_number, partition in copies:
        customer, item, price, quantity, minute = bodies[body_number]
        event = order(customer, (item, price, quantity), at=T0 + timedelta(minutes=minute))
        event = msgspec.structs.replace(event, event_id=ids[id_number])
        record = factory.event(event, partition)
        partitions[partition].append(record)
        content[(partition, record.offset)] = (id_number, event)

    expected_rows: dict = defaultdict(lambda: [0, 0, None, None])
    expected_quarantine = set()
    for id_number in range(4):
        positions = sorted(pos for pos, (number, _) in content.items() if number == id_number)
        if not positions:
            continue
        winner = content[positions[0]][1]
        line = winner.payload.lines[0]
        row = expected_rows[(winner.payload.customer_id, line.item, line.unit_price_pence)]
        row[0] += line.quantity
        row[1] += 1
        row[2] = min(filter(None, [row[2], winner.occurred_at]))
        row[3] = max(filter(None, [row[3], winner.occurred_at]))
        for position in positions[1:]:
            if content[position][1] != winner:
                reason = contracts.reused_id_reason(winner.event_id, *positions[0])
                expected_quarantine.add((*position, reason))
    expected = (
        {key: (price_band(key[2]).value, q, n, first, last) for key, (q, n, first, last) in expected_rows.items()},
        expected_quarantine,
        len({number for number, _ in content.values()}),
    )

    stream = interleave(partitions, data.draw(st.lists(st.integers(0, 2), min_size=len(copies),
                                                       max_size=len(copies))))
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=4))
    assert project(stream, cuts) == expected


def test_a_view_of_projection_version_1_is_still_projected_into_until_its_rebuild(db_path, records) -> None:
    old = order("vera", ("Vase", 4200, 1), at=T0)
    legacy = sqlite3.connect(db_path)
    legacy.execute('CREATE TABLE applied_events (event_id BLOB NOT NULL PRIMARY KEY, partition INTEGER NOT NULL, '
                   '"offset" INTEGER NOT NULL) WITHOUT ROWID')
    legacy.execute("INSERT INTO applied_events VALUES (?, 2, 0)", (old.event_id.bytes,))
    legacy.commit()
    legacy.close()
    engine = open_engine(db_path, writer=True)
    ensure_schema(engine)  # adds what version 2 needs; the content of old events is unknown
    projector = Projector(engine, TOPIC)

    outcome = projector.apply([
        records.event(reusing(old, "vera", ("Vase", 4200, 5)), partition=1),  # lower than the old copy
        records.event(order("walt", ("Wok", 2900, 2), at=T0), partition=1),
    ])

    assert (outcome.applied, outcome.quarantined) == (1, 0)  # kept as counted before: the rebuild decides
    rows, quarantined, applied = snapshot(db_path)
    assert rows == {("walt", "Wok", 2900): ("affordable", 2, 1, T0, T0)}
    assert (quarantined, applied) == (set(), 2)
    engine.dispose()
