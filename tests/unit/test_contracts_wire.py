"""The contract's bytes and its constructors: events keep the JSON (and so the digests the read model stores)
that they had when the contract was written with pydantic, and nothing the decoder refuses can be built."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from desktop_app import contracts

AT = datetime(2025, 3, 1, 12, 0, 0, 5, tzinfo=timezone.utc)


def _id(number: int) -> uuid.UUID:
    return uuid.UUID(int=number, version=4)


def _line(item: str = "Tea", price: object = 350, quantity: object = 2) -> contracts.OrderLine:
    return contracts.OrderLine(item=item, unit_price_pence=price, quantity=quantity)  # type: ignore[arg-type]


def _placed(**fields: object) -> contracts.EventEnvelope:
    given = {"customer_id": "alice", "command_id": "cmd-1", "lines": [_line()], "source": "desk", "occurred_at": AT}
    return contracts.new_order_placed(**(given | fields))  # type: ignore[arg-type]


def _cancelled(**fields: object) -> contracts.CancelEnvelope:
    given = {"order_id": _id(2), "customer_id": "alice", "command_id": "c-1", "reason": "", "source": "desk"}
    return contracts.new_order_cancelled(**(given | fields))  # type: ignore[arg-type]


def _fixed(event: contracts.Event, number: int) -> contracts.Event:
    return msgspec.structs.replace(event, event_id=_id(number))


# (event, its JSON and content digest as the pydantic contract wrote them, before this one replaced it)
WRITTEN_BEFORE = [
    (lambda: _fixed(_placed(customer_id="Zoë 😀", order_id=_id(2), source="desk-1",
                            lines=[_line('Tea "best" \\ / <b>', contracts.MAX_PRICE_PENCE, contracts.MAX_QUANTITY),
                                   _line("é", 1, 1)]), 1),
     b'{"event_id":"00000000-0000-4000-8000-000000000001","event_type":"OrderPlaced","schema_version":1,'
     b'"occurred_at":"2025-03-01T12:00:00.000005Z","source":"desk-1","payload":{"order_id":'
     b'"00000000-0000-4000-8000-000000000002","customer_id":"Zo\xc3\xab \xf0\x9f\x98\x80","command_id":"cmd-1",'
     b'"lines":[{"item":"Tea \\"best\\" \\\\ / <b>","unit_price_pence":100000000,"quantity":10000},'
     b'{"item":"\xc3\xa9","unit_price_pence":1,"quantity":1}]}}',
     "f38daa0356b64bcf95ac40ed5b9157aa"),
    (lambda: _fixed(_placed(command_id="cmd-2", lines=[_line("Cake", 225, 4)], source="", order_id=_id(4),
                            occurred_at=datetime(2025, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
                            replaces=_id(2)), 3),
     b'{"event_id":"00000000-0000-4000-8000-000000000003","event_type":"OrderPlaced","schema_version":1,'
     b'"occurred_at":"2025-03-01T12:00:00Z","source":"","payload":{"order_id":"00000000-0000-4000-8000-000000000004",'
     b'"customer_id":"alice","command_id":"cmd-2","lines":[{"item":"Cake","unit_price_pence":225,"quantity":4}],'
     b'"replaces":"00000000-0000-4000-8000-000000000002"}}',
     "f332995e508bcff1877ddc20cb3d5279"),
    (lambda: _fixed(_cancelled(command_id="c\x00x", reason="tab\there\nnew \u2028 line", source="s",
                               occurred_at=datetime(1, 1, 1, tzinfo=timezone.utc)), 5),
     b'{"event_id":"00000000-0000-4000-8000-000000000005","event_type":"OrderCancelled","schema_version":1,'
     b'"occurred_at":"0001-01-01T00:00:00Z","source":"s","payload":{"order_id":"00000000-0000-4000-8000-000000000002",'
     b'"customer_id":"alice","command_id":"c\\u0000x","reason":"tab\\there\\nnew \xe2\x80\xa8 line"}}',
     "89d59900e2c1688981686325593a90da"),
]


@pytest.mark.parametrize(("make", "written", "digest"), WRITTEN_BEFORE)
def test_an_event_has_the_bytes_and_digest_it_had_before(make, written: bytes, digest: str) -> None:
    event = make()
    assert contracts.event_json(event) == contracts.encode(event).value == written
    assert contracts.content_digest(event).hex() == digest  # the read model holds digests written before
    assert contracts.decode(written) == contracts.parse_event_json(written) == event


@pytest.mark.parametrize(("make", "written", "digest"), WRITTEN_BEFORE)
def test_a_copy_in_another_layout_and_time_zone_has_the_same_digest(make, written: bytes, digest: str) -> None:
    body = json.loads(written)
    moment = datetime.fromisoformat(body["occurred_at"])
    body["occurred_at"] = moment.astimezone(timezone(timedelta(hours=-5) if moment.year > 1 else timedelta(0)))
    body["occurred_at"] = body["occurred_at"].isoformat()
    body["payload"]["order_id"] = uuid.UUID(body["payload"]["order_id"]).hex  # an id in another notation too
    copy = json.dumps(dict(reversed(list(body.items()))), indent=1, ensure_ascii=True).encode()

    decoded = contracts.decode(copy)

    assert copy != written
    assert decoded.occurred_at.utcoffset() == timedelta(0)
    assert contracts.content_digest(decoded).hex() == digest


def test_a_null_replaces_is_a_plain_order_with_the_plain_order_digest() -> None:
    plain = _placed()
    body = json.loads(contracts.event_json(plain))
    body["payload"]["replaces"] = None
    assert contracts.content_digest(contracts.decode(json.dumps(body).encode())) == contracts.content_digest(plain)


REFUSED_BY_THE_CONSTRUCTORS = [
    ("payload.lines.0.quantity", lambda: _placed(lines=[_line(quantity=contracts.MAX_QUANTITY + 1)])),
    ("payload.lines.0.quantity", lambda: _placed(lines=[_line(quantity=True)])),
    ("payload.lines.0.unit_price_pence", lambda: _placed(lines=[_line(price=3.5)])),
    ("payload.lines.0.unit_price_pence", lambda: _placed(lines=[_line(price=0)])),
    ("payload.lines.0.item", lambda: _placed(lines=[_line(item="x" * (contracts.MAX_ITEM + 1))])),
    ("payload.lines", lambda: _placed(lines=[])),
    ("payload.lines", lambda: _placed(lines=[_line()] * (contracts.MAX_LINES + 1))),
    ("payload.customer_id", lambda: _placed(customer_id="")),
    ("payload.command_id", lambda: _cancelled(command_id="c" * (contracts.MAX_COMMAND_ID + 1))),
    ("payload.reason", lambda: _cancelled(reason="r" * (contracts.MAX_REASON + 1))),
    ("payload.order_id", lambda: _cancelled(order_id=str(_id(2)) + "x")),
    ("occurred_at", lambda: _placed(occurred_at=datetime(2025, 3, 1, 12, 0))),  # naive: not taken for local time
    ("occurred_at", lambda: _cancelled(occurred_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))),
    ("source", lambda: _placed(source="s" * 257)),
]


@pytest.mark.parametrize(("where", "build"), REFUSED_BY_THE_CONSTRUCTORS)
def test_the_constructors_refuse_what_the_decoder_refuses(where: str, build) -> None:
    with pytest.raises(ValueError) as refused:
        build()
    assert where.split(".")[-1] in str(refused.value) or "out of range" in str(refused.value)


def test_the_constructors_keep_a_time_given_in_any_offset_in_utc() -> None:
    event = _placed(occurred_at=datetime(2025, 3, 1, 13, 0, 0, 5, tzinfo=timezone(timedelta(hours=1))))
    assert (event.occurred_at, event.occurred_at.tzinfo) == (AT, timezone.utc)


def test_bad_utf8_inside_a_text_field_is_reported_as_such() -> None:
    written = contracts.event_json(_placed(source="desk"))
    assert contracts.decode(written).source == "desk"
    with pytest.raises(contracts.MalformedRecord, match="^value is not UTF-8$"):
        contracts.decode(written.replace(b'"desk"', b'"d\xffsk"'))
    with pytest.raises(contracts.MalformedRecord, match="^value is not UTF-8$"):  # even with another fault first
        faulty = written.replace(b'"schema_version":1', b'"schema_version":true')
        contracts.decode(faulty.replace(b"desk", b"\xed\xa0\x80"))


@pytest.mark.parametrize(("where", "body"), [
    ("payload.lines", lambda b: b["payload"].update(lines=[])),
    ("payload.reason", lambda b: b["payload"].update(reason="x")),  # a cancellation's field in an order
    ("payload.order_id", lambda b: b["payload"].pop("order_id")),
    ("event_type", lambda b: b.pop("event_type")),
    ("payload.lines.0.quantity", lambda b: b["payload"]["lines"][0].update(quantity=0)),
])
def test_a_refusal_names_the_field_by_its_dotted_path(where: str, body) -> None:
    written = json.loads(contracts.event_json(_placed()))
    body(written)
    with pytest.raises(contracts.MalformedRecord) as refused:
        contracts.decode(json.dumps(written).encode())
    assert refused.value.reason.startswith(f"contract violation at {where}: ")
