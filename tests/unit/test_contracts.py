"""The contract's decoder, field by field: exact types (no booleans or floats for integers), and digests."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import msgspec
import pytest

from desktop_app import contracts
from support.order_stream import order_event

EVENT = order_event("alice", ("Tea", 350, 2), at=datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc))
WIRE = contracts.encode(EVENT)


def body_with(path: str, value: object) -> bytes:
    """The valid event's JSON with one field (dotted path, list indexes as numbers) set to `value`."""
    body = json.loads(WIRE.value)
    *parents, leaf = path.split(".")
    target = body
    for name in parents:
        target = target[int(name)] if isinstance(target, list) else target[name]
    if isinstance(target, list):
        target[int(leaf)] = value
    else:
        target[leaf] = value
    return json.dumps(body).encode()


def test_the_valid_event_decodes_with_and_without_headers() -> None:
    assert contracts.decode(WIRE.value, WIRE.headers) == EVENT
    assert contracts.decode(WIRE.value) == EVENT


INTEGER_FIELDS = ["schema_version", "payload.lines.0.unit_price_pence", "payload.lines.0.quantity"]


@pytest.mark.parametrize("path", INTEGER_FIELDS)
@pytest.mark.parametrize("value", [True, False, 1.0, 2.0, 350.0, 1.5, 1e2])
@pytest.mark.parametrize("with_headers", [False, True])
def test_an_integer_field_refuses_booleans_and_floats(path: str, value: object, with_headers: bool) -> None:
    headers = WIRE.headers if with_headers else ()
    with pytest.raises(contracts.MalformedRecord) as refused:
        contracts.decode(body_with(path, value), headers)
    assert refused.value.reason.startswith(("contract violation at", "unknown schema version"))


@pytest.mark.parametrize("value", [True, 1.0])
def test_schema_version_true_or_one_point_zero_is_not_version_1(value: object) -> None:
    with pytest.raises(contracts.MalformedRecord, match="at schema_version: Expected `int`, got `(bool|float)`"):
        contracts.decode(body_with("schema_version", value))


WRONG_TYPES = [
    # every field of the contract, with values of the wrong JSON type (numbers, booleans, null, containers)
    ("event_id", [1, True, 1.0, None, []]),
    ("event_type", [1, True, None, ["OrderPlaced"]]),
    ("schema_version", ["1", None, [1], True, 1.0]),
    ("occurred_at", [1_740_830_400, 1_740_830_400.0, "1740830400", "1740830400.5", True, None, "2025-03-01T12:00:00"]),
    ("source", [1, True, 1.0, None]),
    ("payload.order_id", [1, True, None]),
    ("payload.customer_id", [1, True, 1.0, None, ""]),
    ("payload.command_id", [1, True, 1.0, None, ""]),
    ("payload.lines", [{}, "Tea", 1, None, []]),
    ("payload.lines.0.item", [1, True, 1.0, None, ""]),
    ("payload.lines.0.unit_price_pence", ["350", True, 350.0, None, 0, -1]),
    ("payload.lines.0.quantity", ["2", True, 2.0, None, 0]),
    ("payload.replaces", [1, True, 1.0, "not an order id", []]),  # null is an order that replaces none
]


@pytest.mark.parametrize(("path", "value"), [(p, v) for p, values in WRONG_TYPES for v in values])
def test_every_field_refuses_values_of_the_wrong_type(path: str, value: object) -> None:
    with pytest.raises(contracts.MalformedRecord):
        contracts.decode(body_with(path, value))


def test_every_field_of_the_contract_is_checked_above() -> None:
    def paths(model: type, prefix: str = "") -> set[str]:
        found = {prefix + model.__struct_config__.tag_field} if model.__struct_config__.tag_field else set()
        for name in (field.encode_name for field in msgspec.structs.fields(model)):
            found.add(prefix + name)
            if name == "payload":
                found |= paths(contracts.OrderPlacedV1, "payload.")
            if name == "lines":
                found |= paths(contracts.OrderLine, prefix + "lines.0.")
        return found

    assert paths(contracts.EventEnvelope) - {"payload"} == {path for path, _ in WRONG_TYPES}


def test_the_time_may_be_written_in_any_offset_and_is_kept_in_utc() -> None:
    event = contracts.decode(body_with("occurred_at", "2025-03-01T13:00:00+01:00"))
    assert (event.occurred_at, event.occurred_at.utcoffset()) == (EVENT.occurred_at, EVENT.occurred_at.utcoffset())


def test_the_digest_is_of_the_decoded_event_not_of_its_bytes() -> None:
    body = json.loads(WIRE.value)
    body["occurred_at"] = "2025-03-01T13:00:00+01:00"  # the same time in another notation
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()

    same = contracts.decode(reordered)

    assert reordered != WIRE.value
    assert contracts.content_digest(same) == contracts.content_digest(EVENT)
    other = contracts.decode(body_with("payload.lines.0.quantity", 3))
    assert contracts.content_digest(other) != contracts.content_digest(EVENT)
    assert len(contracts.content_digest(EVENT)) == 16
