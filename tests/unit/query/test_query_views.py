"""The read API over a projected temp read model: filters, sorting, paging, keys, totals, lag."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from desktop_app.query.bands import Band
from desktop_app.query.views import BandTotals, Lag, compute_lag, pence_to_decimal

from query_unit_helpers import order


@pytest.fixture
def projected(projector, read_model, records):
    projector.apply([
        records.event(order("alice", ("Tea", 350, 2), ("Teapot", 2500, 1))),
        records.event(order("alice", ("Tea", 350, 1), ("Kettle", 9999, 1)), partition=1),
        records.event(order("bob", ("Tea", 400, 5), ("100%_cotton towel", 1500, 2))),
        records.event(order("carol", ("Sofa", 50001, 1)), partition=2),
        records.raw(b"not an event", partition=2),
    ])
    return read_model


def keys(rows):
    return [(r.customer_id, r.item, r.unit_price_pence) for r in rows]


def test_items_default_order_is_customer_item_price(projected) -> None:
    assert keys(projected.items()) == [
        ("alice", "Kettle", 9999), ("alice", "Tea", 350), ("alice", "Teapot", 2500),
        ("bob", "100%_cotton towel", 1500), ("bob", "Tea", 400), ("carol", "Sofa", 50001),
    ]


def test_items_rows_carry_all_fields(projected) -> None:
    (tea,) = projected.items(customer="alice", band=Band.CHEAP)
    assert (tea.item, tea.band, tea.quantity, tea.orders, tea.unit_price) == ("Tea", Band.CHEAP, 3, 2, Decimal("3.50"))
    assert tea.first_ordered == datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert tea.key == ("alice", Band.CHEAP)


def test_items_filter_by_band_customer_and_search(projected) -> None:
    assert keys(projected.items(band="expensive")) == [("alice", "Kettle", 9999), ("carol", "Sofa", 50001)]
    assert keys(projected.items(band=Band.CHEAP, customer="bob")) == [("bob", "Tea", 400)]
    assert keys(projected.items(search="tea")) == [
        ("alice", "Tea", 350), ("alice", "Teapot", 2500), ("bob", "Tea", 400),
    ]
    assert keys(projected.items(search="CAROL")) == [("carol", "Sofa", 50001)]


def test_search_treats_like_wildcards_as_text(projected) -> None:
    assert keys(projected.items(search="0%_c")) == [("bob", "100%_cotton towel", 1500)]
    assert projected.items(search="T_a") == []
    assert projected.count_items(search="%") == 1


def test_items_sort_descending_and_page(projected) -> None:
    by_quantity = projected.items(order_by=("quantity",), descending=True)
    assert [r.quantity for r in by_quantity] == [5, 3, 2, 1, 1, 1]
    pages = [projected.items(order_by=("quantity",), limit=2, offset=start) for start in (0, 2, 4)]
    assert sum((keys(p) for p in pages), []) == keys(projected.items(order_by=("quantity",)))
    with pytest.raises(ValueError, match="cannot sort"):
        projected.items(order_by=("price; drop table",))


def test_items_sort_by_line_value(projected) -> None:
    rows = projected.items(order_by=("line_value_pence",), descending=True)
    values = [r.line_value_pence for r in rows]
    assert values == sorted(values, reverse=True) and len(set(values)) > 1
    pages = [projected.items(order_by=("line_value_pence",), limit=2, offset=start) for start in (0, 2, 4)]
    assert sum((keys(p) for p in pages), []) == keys(projected.items(order_by=("line_value_pence",)))


def test_count_items_matches_items(projected) -> None:
    for band in (None, *Band):
        for customer in (None, "alice", "nobody"):
            assert projected.count_items(band, customer) == len(projected.items(band, customer))


def test_rows_for_keys_returns_all_rows_of_those_customer_bands(projected) -> None:
    rows = projected.rows_for_keys([("alice", Band.CHEAP), ("bob", "affordable"), ("carol", Band.CHEAP)])
    assert keys(rows) == [("alice", "Tea", 350), ("bob", "100%_cotton towel", 1500)]
    assert projected.rows_for_keys([]) == []


def test_customers_are_distinct_and_sorted(projected) -> None:
    assert projected.customers() == ["alice", "bob", "carol"]


def test_summary_totals_per_band_and_lag(projected) -> None:
    summary = projected.summary(end_offsets={0: 2, 1: 5, 2: 2, 3: 4})
    assert summary.bands == {
        Band.CHEAP: BandTotals(rows=2, quantity=8),
        Band.AFFORDABLE: BandTotals(rows=2, quantity=3),
        Band.EXPENSIVE: BandTotals(rows=2, quantity=2),
    }
    assert (summary.events_applied, summary.quarantined) == (4, 1)
    assert summary.lag == Lag(per_partition={0: 0, 1: 4, 2: 0, 3: 4}, total=8)
    assert projected.summary().lag is None


def test_summary_of_an_empty_read_model(read_model) -> None:
    summary = read_model.summary(end_offsets={})
    assert summary.bands == {band: BandTotals(0, 0) for band in Band}
    assert (summary.events_applied, summary.quarantined, summary.lag) == (0, 0, Lag({}, 0))


def test_quarantined_list_shows_the_record(projected) -> None:
    (entry,) = projected.quarantined()
    assert (entry.partition, entry.offset, entry.value, entry.reason) == (2, 1, b"not an event", "invalid JSON")
    assert entry.quarantined_at.tzinfo is timezone.utc


def test_compute_lag_counts_unread_partitions_from_zero() -> None:
    assert compute_lag({0: 10, 1: 3}, {0: 4, 7: 2}) == Lag({0: 6, 1: 3}, 9)


@pytest.mark.parametrize(("pence", "text"), [(1, "0.01"), (99, "0.99"), (9990, "99.90"), (100_000_000, "1000000.00")])
def test_pence_to_decimal_is_exact(pence, text) -> None:
    assert str(pence_to_decimal(pence)) == text


def test_reads_from_many_threads_while_the_projector_writes(projector, read_model, records) -> None:
    import threading

    failures: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                rows = read_model.items()
                summary = read_model.summary()
                # one snapshot per call: a summary's totals always match its own rows
                assert sum(t.rows for t in summary.bands.values()) == summary.events_applied
                assert len(rows) <= 200
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for n in range(200):
        projector.apply([records.event(order(f"c{n:03}", ("Thing", 100, 1)))])
    done.set()
    for thread in threads:
        thread.join()

    assert failures == []
    assert read_model.count_items() == 200
