"""CancelOrder and AmendOrder as typed: every problem at once, per field; amend's lines follow PlaceOrder's rule."""

from __future__ import annotations

import uuid

import pytest

from desktop_app import contracts
from desktop_app.command.model import LineInput, PlaceOrder, Problem, reason_of, validate
from desktop_app.command.order_changes import AmendOrder, CancelOrder, order_id_of, validate_change

ORDER = "6f1c0a52-3c1e-4c41-9d1b-1e2f3a4b5c6d"


def fields(problems: tuple[Problem, ...]) -> dict[str, str]:
    return {p.field: p.message for p in problems}


def test_a_well_formed_cancel_and_amend_have_no_problem() -> None:
    assert validate_change(CancelOrder(ORDER)) == ()
    assert validate_change(CancelOrder(f"  {ORDER.upper()}  ", "customer changed their mind", customer_id="alice")) == ()
    assert validate_change(AmendOrder(ORDER, (LineInput("Tea", "3.50", "2"),))) == ()


@pytest.mark.parametrize("typed, message", [
    ("", "is required"), ("   ", "is required"), ("order-1", "is not an order id"),
    (ORDER[:-1], "is not an order id"), (ORDER + "0", "is not an order id"), (None, "is required"),
])
def test_an_order_id_must_be_a_uuid(typed, message) -> None:
    assert fields(validate_change(CancelOrder(typed))) == {"order_id": message}  # type: ignore[arg-type]


def test_an_order_id_is_read_in_any_case_and_spelling_as_the_same_uuid() -> None:
    assert order_id_of(ORDER.upper()) == order_id_of(f" {ORDER} ") == order_id_of(uuid.UUID(ORDER)) == uuid.UUID(ORDER)


def test_a_reason_has_at_most_max_reason_characters() -> None:
    assert validate_change(CancelOrder(ORDER, "x" * contracts.MAX_REASON)) == ()
    too_long = CancelOrder(ORDER, "x" * (contracts.MAX_REASON + 1))
    assert fields(validate_change(too_long)) == {"reason": "at most 200 characters (this has 201)"}
    assert str(validate_change(too_long)[0]) == "Reason: at most 200 characters (this has 201)"


@pytest.mark.parametrize("reason, message", [
    ("wrong\x07item", "must not contain control characters"),
    ("two\nlines", "must not contain control characters"),
    ("price \u202eevil", "must not contain direction-control characters"),
    ("\u200b\u200b", "must contain a visible character"),
    (42, "must be text"),
])
def test_a_reason_follows_the_label_rule_for_controls(reason, message) -> None:
    assert fields(validate_change(CancelOrder(ORDER, reason))) == {"reason": message}  # type: ignore[arg-type]


def test_a_reason_is_trimmed_and_may_be_empty() -> None:
    assert reason_of("  late delivery  ") == "late delivery"
    assert reason_of("   ") == reason_of("") == ""
    assert reason_of("e\u0301") == "\u00e9"  # NFC, like labels


def test_every_problem_of_a_cancel_is_given_at_once() -> None:
    problems = validate_change(CancelOrder("nope", "x" * 300, "bad id", customer_id="\x00"))
    assert fields(problems) == {
        "order_id": "is not an order id",
        "customer": "must not contain control characters",
        "reason": "at most 200 characters (this has 300)",
        "command_id": "must not contain spaces or control characters",
    }


def test_amend_defaults_its_reason_to_amended() -> None:
    assert AmendOrder(ORDER, [LineInput("Tea", "1", 1)]).reason == "amended"
    assert AmendOrder(ORDER, [LineInput("Tea", "1", 1)]).lines == (LineInput("Tea", "1", 1),)  # a list becomes a tuple


BAD_LINES = [
    (),
    (LineInput("", "abc", "0"),),
    (LineInput("Tea", "3.999", "1"), "not a line", LineInput("Cake", "-1", "x")),
    tuple(LineInput(f"item {n}", "1", "1") for n in range(contracts.MAX_LINES + 1)),
]


@pytest.mark.parametrize("lines", BAD_LINES)
def test_amend_lines_get_exactly_the_problems_place_order_gives(lines) -> None:
    placed = validate(PlaceOrder("alice", lines))
    amended = validate_change(AmendOrder(ORDER, lines))
    assert placed and amended == placed


def test_every_problem_of_an_amend_is_given_at_once() -> None:
    problems = validate_change(AmendOrder("x", (LineInput("Tea", "0", "1"),), reason="\x1b"))
    assert fields(problems) == {
        "order_id": "is not an order id",
        "reason": "must not contain control characters",
        "line[1].price": "must be more than 0",
    }


def test_a_command_id_cannot_collide_with_an_amend_s_internal_cancel_key() -> None:
    # an amend stores its OrderCancelled under command_id + "\x00cancels": no typed command id holds a control char
    assert fields(validate_change(CancelOrder(ORDER, command_id="cmd-1\x00cancels"))) == {
        "command_id": "must not contain spaces or control characters"
    }
