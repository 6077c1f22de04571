"""Property: for any text in any field, a command is refused with readable messages, or it becomes exactly
one outbox event that decodes (contracts.decode) back to the values typed. No exception escapes."""

from __future__ import annotations

import re
import tempfile
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app import contracts
from desktop_app.command.model import InvalidOrder, LineInput, PlaceOrder, check, validate
from desktop_app.command.outbox import Outbox

ODD_TEXT = ["", " ", "\x00", "\n", "\t\t", "\udcff", "\u2028", "£", "NaN", "-0", "１２", "Ⅻ", "٣.٥"]

labels = st.one_of(
    st.text(),
    st.text(st.characters(codec="utf-8"), min_size=55, max_size=130),
    st.from_regex(r"\s*[A-Za-z0-9 ]{1,10}\s*", fullmatch=True),
    st.sampled_from(ODD_TEXT),
)
prices = st.one_of(
    st.text(),
    st.from_regex(r"\s*£?\s*[0-9]{1,8}(\.[0-9]{0,3})?\s*", fullmatch=True),
    st.sampled_from(ODD_TEXT + ["inf", "1e3", "1E-2", "+1", "1,000.00", "1_000", "0.00", "1000000.00", "1000000.01"]),
    st.decimals(allow_nan=True, allow_infinity=True),
)
quantities = st.one_of(
    st.text(),
    st.from_regex(r"\s*[0-9]{1,6}\s*", fullmatch=True),
    st.integers(min_value=-5, max_value=20_000),
    st.sampled_from(ODD_TEXT + ["1.0", "+1", "0x10"]),
)
line_inputs = st.builds(LineInput, item=labels, price=prices, quantity=quantities)
arbitrary_commands = st.builds(
    PlaceOrder,
    customer_id=labels,
    lines=st.lists(line_inputs, max_size=4).map(tuple),
    command_id=st.one_of(st.uuids().map(str), st.text(max_size=130), st.sampled_from(ODD_TEXT)),
)
# Mostly well-formed input, so that many examples are accepted and checked end to end.
plausible_labels = st.one_of(
    st.from_regex(r"\s{0,2}[^\x00-\x1f\x7f-\x9f\s][^\x00-\x1f\x7f-\x9f]{0,20}\s{0,2}", fullmatch=True),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Zl", "Zp")), min_size=1, max_size=70),
)
plausible_lines = st.builds(
    LineInput,
    item=plausible_labels,
    price=st.from_regex(r"\s?£?[0-9]{1,7}(\.[0-9]{1,2})?", fullmatch=True),
    quantity=st.one_of(st.integers(min_value=1, max_value=10_000), st.from_regex(r"[0-9]{1,5}", fullmatch=True)),
)
plausible_commands = st.builds(
    PlaceOrder,
    customer_id=plausible_labels,
    lines=st.lists(plausible_lines, min_size=1, max_size=3).map(tuple),
    command_id=st.uuids().map(str),
)
commands = st.one_of(arbitrary_commands, plausible_commands)

FIELD = re.compile(r"customer|command_id|lines|line\[[1-9][0-9]*\]\.(item|price|quantity)")


def typed_pence(price: str | Decimal) -> Decimal:
    """What the person typed, as exact pence (an independent reading, for comparison).

    "Trimmed" means str.strip(): Unicode whitespace, which includes the separators U+001C..U+001F."""
    if isinstance(price, Decimal):
        return price * 100
    return Decimal(price.strip().removeprefix("£").strip()) * 100


def typed_label(text: str) -> str:
    """A label as typed, trimmed and in NFC (the customer-id and item-name rule)."""
    return unicodedata.normalize("NFC", text.strip())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands)
def test_any_input_is_refused_with_messages_or_becomes_exactly_one_faithful_event(cmd: PlaceOrder) -> None:
    problems = validate(cmd)
    hypothesis.event("refused" if problems else "accepted")
    if problems:
        assert all(FIELD.fullmatch(p.field) and p.message.strip() for p in problems), problems
        with pytest.raises(InvalidOrder):
            check(cmd)
        return

    with tempfile.TemporaryDirectory() as tmp:
        outbox = Outbox(Path(tmp) / "command.db", "orders")
        try:
            receipt, created = outbox.accept(check(cmd).to_event(source="property-test"))
            pending = outbox.pending(limit=10)
        finally:
            outbox.close()

    assert created and len(pending) == 1
    record = contracts.encode(pending[0].event)
    event = contracts.decode(record.value, record.headers)
    assert event.event_id == receipt.event_id and event.payload.order_id == receipt.order_id
    assert event.payload.command_id == cmd.command_id
    assert event.payload.customer_id == typed_label(cmd.customer_id)
    assert record.key == typed_label(cmd.customer_id).encode("utf-8")
    assert len(event.payload.lines) == len(cmd.lines)
    for typed, stored in zip(cmd.lines, event.payload.lines):
        assert stored.item == typed_label(str(typed.item))
        assert stored.unit_price_pence == typed_pence(typed.price)
        assert stored.quantity == (typed.quantity if isinstance(typed.quantity, int) else int(typed.quantity.strip()))
