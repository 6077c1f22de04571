"""OrderCancelled v1 in the contract: its fields' exact types, the reason's bound, its key and headers, and the
OrderPlaced `replaces` field that an amendment sets (absent from a plain order's JSON)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import msgspec
import pytest

from desktop_app import contracts
from support.order_stream import amendment_events, cancel_event, order_event

PLACED = order_event("alice", ("Tea", 350, 2), at=datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc))
CANCEL = cancel_event(PLACED, reason="wrong size")
WIRE = contracts.encode(CANCEL)


def body_with(path: str, value: object) -> bytes:
    body = json.loads(WIRE.value)
    *parents, leaf = path.split(".")
    target = body
    for name in parents:
        target = target[name]
    target[leaf] = value
    return json.dumps(body).encode()


def test_a_cancellation_round_trips_keyed_by_the_customer_with_its_type_in_the_headers() -> None:
    assert contracts.decode(WIRE.value, WIRE.headers) == CANCEL
    assert WIRE.key == contracts.encode(PLACED).key == b"alice"  # the same partition as the order it cancels
    assert dict(WIRE.headers)["event_type"] == b"OrderCancelled"
    assert dict(WIRE.headers)["schema_version"] == b"1"
    assert contracts.parse_event_json(contracts.event_json(CANCEL)) == CANCEL


WRONG = [
    ("payload.order_id", [1, True, None, "not an id"]),
    ("payload.customer_id", [1, True, None, "", "x" * (contracts.MAX_CUSTOMER_ID + 1)]),
    ("payload.command_id", [1, True, None, ""]),
    ("payload.reason", [1, True, None, [], "x" * (contracts.MAX_REASON + 1)]),
    ("schema_version", [2, True, 1.0, "1"]),
]


@pytest.mark.parametrize(("path", "value"), [(p, v) for p, values in WRONG for v in values])
def test_every_field_of_a_cancellation_refuses_wrong_values(path: str, value: object) -> None:
    with pytest.raises(contracts.MalformedRecord):
        contracts.decode(body_with(path, value), WIRE.headers)


def test_every_field_of_a_cancellation_is_checked_above() -> None:
    fields = {f"payload.{field.encode_name}" for field in msgspec.structs.fields(contracts.OrderCancelledV1)}
    fields |= {"schema_version"}
    assert fields == {path for path, _ in WRONG}


def test_a_reason_of_exactly_the_limit_is_accepted() -> None:
    assert contracts.decode(body_with("payload.reason", "x" * contracts.MAX_REASON)).payload.reason == "x" * 200


def test_an_unknown_version_of_a_cancellation_is_refused_by_that_reason() -> None:
    headers = (("event_type", b"OrderCancelled"), ("schema_version", b"2"))
    with pytest.raises(contracts.MalformedRecord, match="unknown schema version '2' of OrderCancelled"):
        contracts.decode(WIRE.value, headers)


def test_a_cancellation_body_under_an_order_placed_header_is_refused() -> None:
    with pytest.raises(contracts.MalformedRecord, match="differs from body"):
        contracts.decode(WIRE.value, (("event_type", b"OrderPlaced"),))


def test_a_plain_order_has_no_replaces_in_its_json_and_an_amendment_names_the_order() -> None:
    _, replacement = amendment_events(PLACED, ("Tea", 350, 1))
    assert "replaces" not in json.loads(contracts.event_json(PLACED))["payload"]
    assert json.loads(contracts.event_json(replacement))["payload"]["replaces"] == str(PLACED.payload.order_id)
    assert contracts.decode(contracts.encode(replacement).value).payload.replaces == PLACED.payload.order_id
    assert PLACED.payload.total_pence == 700


def test_a_stray_field_in_a_cancellation_is_refused() -> None:
    body = json.loads(WIRE.value)
    body["payload"]["lines"] = []
    with pytest.raises(contracts.MalformedRecord, match="payload.lines"):
        contracts.decode(json.dumps(body).encode())
    assert uuid.UUID(body["payload"]["order_id"]) == PLACED.payload.order_id
