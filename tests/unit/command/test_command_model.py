"""PlaceOrder validation: a table of valid and invalid inputs for every rule, and the pence conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from desktop_app import contracts
from desktop_app.command.model import (
    InvalidOrder,
    LineInput,
    PlaceOrder,
    Problem,
    check,
    parse_price_pence,
    validate,
)


def order(customer: object = "alice", lines: object = None, command_id: object = "cmd-1") -> PlaceOrder:
    if lines is None:
        lines = (LineInput("Tea", "3.50", "2"),)
    return PlaceOrder(customer, lines, command_id)  # type: ignore[arg-type]


def line(item: object = "Tea", price: object = "3.50", quantity: object = "2") -> PlaceOrder:
    return order(lines=(LineInput(item, price, quantity),))  # type: ignore[arg-type]


# (case id, command, expected problems) -- each invalid case breaks exactly one rule
INVALID = [
    # customer: 1-64 characters after trimming, no control characters
    ("customer empty", order(customer=""), [("customer", "is required")]),
    ("customer blank", order(customer=" \t "), [("customer", "is required")]),
    ("customer 65", order(customer="c" * 65), [("customer", "at most 64 characters (this has 65)")]),
    ("customer NUL", order(customer="al\x00ice"), [("customer", "must not contain control characters")]),
    ("customer newline inside", order(customer="al\nice"), [("customer", "must not contain control characters")]),
    ("customer DEL", order(customer="al\x7fice"), [("customer", "must not contain control characters")]),
    ("customer C1 control", order(customer="al\x85ice"), [("customer", "must not contain control characters")]),
    ("customer lone surrogate", order(customer="al\udcffice"), [("customer", "must not contain control characters")]),
    ("customer line separator", order(customer="al\u2028ice"), [("customer", "must not contain control characters")]),
    ("customer not text", order(customer=None), [("customer", "is required")]),
    # item: 1-120 characters after trimming, no control characters
    ("item empty", line(item=""), [("line[1].item", "is required")]),
    ("item blank", line(item="   "), [("line[1].item", "is required")]),
    ("item 121", line(item="i" * 121), [("line[1].item", "at most 120 characters (this has 121)")]),
    ("item tab inside", line(item="Green\tTea"), [("line[1].item", "must not contain control characters")]),
    ("item escape", line(item="Tea\x1b[31m"), [("line[1].item", "must not contain control characters")]),
    # price: decimal pounds, at most 2 decimals, > 0, <= 1,000,000.00
    ("price empty", line(price=""), [("line[1].price", "is required")]),
    ("price blank", line(price="  "), [("line[1].price", "is required")]),
    ("price pound sign only", line(price="£"), [("line[1].price", "is required")]),
    ("price 3 decimals", line(price="4.999"), [("line[1].price", "at most 2 decimal places")]),
    ("price trailing zero decimal", line(price="4.990"), [("line[1].price", "at most 2 decimal places")]),
    ("price zero", line(price="0"), [("line[1].price", "must be more than 0")]),
    ("price zero decimals", line(price="0.00"), [("line[1].price", "must be more than 0")]),
    ("price above max", line(price="1000000.01"), [("line[1].price", "must be at most 1,000,000.00")]),
    ("price far above max", line(price="9" * 40), [("line[1].price", "must be at most 1,000,000.00")]),
    ("price negative", line(price="-1.00"), [("line[1].price", "must not have a sign")]),
    ("price plus", line(price="+1.00"), [("line[1].price", "must not have a sign")]),
    ("price minus sign", line(price="\u22121.00"), [("line[1].price", "must not have a sign")]),
    ("price NaN", line(price="NaN"), [("line[1].price", "must be a finite amount")]),
    ("price nan", line(price="nan"), [("line[1].price", "must be a finite amount")]),
    ("price sNaN", line(price="sNaN"), [("line[1].price", "must be a finite amount")]),
    ("price inf", line(price="inf"), [("line[1].price", "must be a finite amount")]),
    ("price Infinity", line(price="Infinity"), [("line[1].price", "must be a finite amount")]),
    ("price negative infinity", line(price="-Infinity"), [("line[1].price", "must not have a sign")]),
    ("price exponent", line(price="1e3"), [("line[1].price", "must be written without an exponent")]),
    ("price exponent upper", line(price="4.99E+2"), [("line[1].price", "must be written without an exponent")]),
    ("price comma thousands", line(price="1,000.00"),
     [("line[1].price", "must not contain thousands separators (write 1000.00)")]),
    ("price underscore thousands", line(price="1_000"),
     [("line[1].price", "must not contain thousands separators (write 1000.00)")]),
    ("price space thousands", line(price="1 000.50"),
     [("line[1].price", "must not contain thousands separators (write 1000.00)")]),
    ("price decimal comma", line(price="4,99"), [("line[1].price", "must be an amount in pounds, such as 4.99")]),
    ("price words", line(price="cheap"), [("line[1].price", "must be an amount in pounds, such as 4.99")]),
    ("price trailing point", line(price="4."), [("line[1].price", "must be an amount in pounds, such as 4.99")]),
    ("price other currency", line(price="$4.99"), [("line[1].price", "must be an amount in pounds, such as 4.99")]),
    ("price non-ASCII digits", line(price="\u0664.\u0669\u0669"),
     [("line[1].price", "must be an amount in pounds, such as 4.99")]),
    ("price float", line(price=4.99), [("line[1].price", "must be an amount in pounds, such as 4.99")]),
    ("price Decimal NaN", line(price=Decimal("NaN")), [("line[1].price", "must be a finite amount")]),
    # quantity: integer 1-10,000
    ("quantity zero", line(quantity="0"), [("line[1].quantity", "must be from 1 to 10,000")]),
    ("quantity above max", line(quantity="10001"), [("line[1].quantity", "must be from 1 to 10,000")]),
    ("quantity huge", line(quantity="9" * 5000), [("line[1].quantity", "must be from 1 to 10,000")]),
    ("quantity int zero", line(quantity=0), [("line[1].quantity", "must be from 1 to 10,000")]),
    ("quantity negative", line(quantity="-1"), [("line[1].quantity", "must be a whole number")]),
    ("quantity decimal", line(quantity="1.5"), [("line[1].quantity", "must be a whole number")]),
    ("quantity float", line(quantity=2.0), [("line[1].quantity", "must be a whole number")]),
    ("quantity bool", line(quantity=True), [("line[1].quantity", "must be a whole number")]),
    ("quantity empty", line(quantity=""), [("line[1].quantity", "is required")]),
    ("quantity exponent", line(quantity="1e2"), [("line[1].quantity", "must be a whole number")]),
    # lines: 1-100
    ("no lines", order(lines=()), [("lines", "at least one line is required")]),
    ("101 lines", order(lines=[LineInput("Tea", "1", "1")] * 101), [("lines", "at most 100 lines (this has 101)")]),
    # command id: 1-128 characters, no spaces or control characters
    ("command id empty", order(command_id=""), [("command_id", "is required")]),
    ("command id 129", order(command_id="c" * 129), [("command_id", "at most 128 characters (this has 129)")]),
    ("command id space", order(command_id="cmd 1"),
     [("command_id", "must not contain spaces or control characters")]),
    ("command id padded", order(command_id=" cmd-1"),
     [("command_id", "must not contain spaces or control characters")]),
]


@pytest.mark.parametrize(("command", "expected"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID])
def test_invalid_input_is_refused_with_the_reason(command: PlaceOrder, expected: list[tuple[str, str]]) -> None:
    assert [tuple(p) for p in validate(command)] == expected
    with pytest.raises(InvalidOrder) as refused:
        check(command)
    assert [tuple(p) for p in refused.value.problems] == expected


# (case id, command, expected customer, expected lines as (item, pence, quantity))
VALID = [
    ("plain", line(), "alice", [("Tea", 350, 2)]),
    ("customer trimmed", order(customer="  alice \n"), "alice", [("Tea", 350, 2)]),
    ("customer 64 after trim", order(customer=" " + "c" * 64 + " "), "c" * 64, [("Tea", 350, 2)]),
    ("customer unicode", order(customer="Zoë 山田"), "Zoë 山田", [("Tea", 350, 2)]),
    ("customer emoji with joiner", order(customer="👩\u200d🍳"), "👩\u200d🍳", [("Tea", 350, 2)]),
    ("item trimmed", line(item="\tGreen Tea  "), "alice", [("Green Tea", 350, 2)]),
    ("item 120", line(item="i" * 120), "alice", [("i" * 120, 350, 2)]),
    ("price whole pounds", line(price="5"), "alice", [("Tea", 500, 2)]),
    ("price one decimal", line(price="5.5"), "alice", [("Tea", 550, 2)]),
    ("price one penny", line(price="0.01"), "alice", [("Tea", 1, 2)]),
    ("price leading zeros", line(price="007.50"), "alice", [("Tea", 750, 2)]),
    ("price max", line(price="1000000.00"), "alice", [("Tea", 100_000_000, 2)]),
    ("price pound sign", line(price="£19.99"), "alice", [("Tea", 1999, 2)]),
    ("price pound sign spaced", line(price=" £ 19.99 "), "alice", [("Tea", 1999, 2)]),
    ("price Decimal", line(price=Decimal("19.99")), "alice", [("Tea", 1999, 2)]),
    ("quantity 1", line(quantity="1"), "alice", [("Tea", 350, 1)]),
    ("quantity 10000", line(quantity="10000"), "alice", [("Tea", 350, 10_000)]),
    ("quantity int", line(quantity=7), "alice", [("Tea", 350, 7)]),
    ("quantity padded", line(quantity=" 03 "), "alice", [("Tea", 350, 3)]),
    ("100 lines", order(lines=[LineInput(f"item {n}", "1.00", "1") for n in range(100)]), "alice",
     [(f"item {n}", 100, 1) for n in range(100)]),
]


@pytest.mark.parametrize(("command", "customer", "lines"), [case[1:] for case in VALID], ids=[case[0] for case in VALID])
def test_valid_input_becomes_trimmed_text_and_integer_pence(
    command: PlaceOrder, customer: str, lines: list[tuple[str, int, int]]
) -> None:
    assert validate(command) == ()
    valid = check(command)
    assert valid.customer_id == customer
    assert valid.command_id == command.command_id
    assert [(ln.item, ln.unit_price_pence, ln.quantity) for ln in valid.lines] == lines
    assert all(type(ln.unit_price_pence) is int for ln in valid.lines)


def test_every_problem_is_reported_at_once_with_readable_labels() -> None:
    command = PlaceOrder(
        " ",
        (LineInput("Tea", "3.50", "1"), LineInput("", "4.999", "0"), LineInput("Mug\x00", "-2", "x")),
        command_id="a b",
    )
    problems = validate(command)
    assert [str(p) for p in problems] == [
        "Customer: is required",
        "Command id: must not contain spaces or control characters",
        "Line 2 item: is required",
        "Line 2 price: at most 2 decimal places",
        "Line 2 quantity: must be from 1 to 10,000",
        "Line 3 item: must not contain control characters",
        "Line 3 price: must not have a sign",
        "Line 3 quantity: must be a whole number",
    ]
    assert problems[3] == Problem("line[2].price", "at most 2 decimal places")


def test_too_many_lines_still_reports_each_bad_line() -> None:
    lines = [LineInput("Tea", "1.00", "1")] * 100 + [LineInput("Tea", "1.001", "1")]
    assert [tuple(p) for p in validate(order(lines=lines))] == [
        ("lines", "at most 100 lines (this has 101)"),
        ("line[101].price", "at most 2 decimal places"),
    ]


def test_command_id_defaults_to_a_fresh_uuid() -> None:
    first, second = PlaceOrder("alice", (LineInput("Tea", "1", "1"),)), PlaceOrder("alice", [LineInput("Tea", "1", "1")])
    assert first.command_id != second.command_id
    assert validate(first) == () and isinstance(second.lines, tuple)


@pytest.mark.parametrize(
    ("text", "pence"),
    [("19.99", 1999), ("0.10", 10), ("0.07", 7), ("999999.99", 99_999_999), ("1.10", 110), ("2.675", None)],
)
def test_prices_convert_exactly_where_floats_would_not(text: str, pence: int | None) -> None:
    # float("1.10") * 100 == 110.00000000000001 and float("0.07") * 100 == 7.000000000000001
    if pence is None:
        with pytest.raises(ValueError, match="at most 2 decimal places"):
            parse_price_pence(text)
    else:
        assert parse_price_pence(text) == pence


def test_nineteen_ninety_nine_times_three_stays_exact_in_the_event() -> None:
    valid = check(order(lines=(LineInput("Tea", "19.99", "3"),)))
    event = valid.to_event(source="test")
    decoded = contracts.decode(contracts.encode(event).value)
    (only,) = decoded.payload.lines
    assert only.unit_price_pence * only.quantity == 5997
    assert b'"unit_price_pence":1999' in contracts.encode(event).value


def test_the_event_carries_the_command_and_a_fresh_identity() -> None:
    valid = check(order(customer=" alice ", command_id="cmd-42"))
    first, second = valid.to_event("desk-1"), valid.to_event("desk-1")
    assert first.payload.customer_id == "alice" and first.payload.command_id == "cmd-42"
    assert first.source == "desk-1"
    assert first.event_id != second.event_id  # the outbox, not the model, makes an event_id stable
