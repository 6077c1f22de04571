"""The PlaceOrder command, its validation, and the event it becomes.

`validate(cmd)` returns every problem at once as (field, message) pairs a person can read. Field names
are "customer", "command_id", "lines", "line[N].item", "line[N].price", "line[N].quantity" (N 1-based),
so a form can show each message next to its field. Prices become integer pence through Decimal.

What a customer id and an item name are is decided here, once, by `customer_id_of` and `item_name_of`;
the window and the CLI both get it through `validate` (see the README, "Customer ids and item names").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, TypeVar

from desktop_app import contracts

MAX_COMMAND_ID = 128
T = TypeVar("T")
_MAX_POUNDS = Decimal(contracts.MAX_PRICE_PENCE).scaleb(-2)
_POUND_SIGN = "£"
# Unicode categories refused inside labels: control chars, lone surrogates (not encodable as UTF-8),
# and the line/paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Bidi controls (embeddings, overrides, isolates, LRM/RLM/ALM): they reorder how the rest of the text is
# shown, so two ids that look alike differ, or one looks like another.
_DIRECTION_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What draws nothing by itself: spaces, format characters (zero-width space, BOM, joiners) and combining
# marks. A label needs at least one character outside these, or a clerk can neither see nor retype it.
_UNSEEN_CATEGORIES = frozenset({"Zs", "Cf", "Mn", "Mc", "Me"})
# Letters and symbols that draw blank all the same: the Hangul fillers and the blank Braille pattern.
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Invisible characters with no job inside a label (unlike ZWJ/ZWNJ, which join emoji and shape scripts):
# inside visible text they make two labels that look the same differ. Zero-width space, word joiner, BOM,
# soft hyphen, Mongolian vowel separator, invisible math operators, and the blank fillers above.
_INVISIBLE_INSIDE = frozenset("\u200b\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064") | _BLANK_CHARACTERS
# Private-use and unassigned code points: each font draws them differently (or not at all), so nobody can
# read one back or type it again.
_UNREADABLE_CATEGORIES = frozenset({"Co", "Cn"})
_PLAIN_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_GROUPED_AMOUNT = re.compile(r"[0-9]{1,3}(?:[,_' \u00a0\u202f][0-9]{3})+(?:\.[0-9]+)?", re.ASCII)
_WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_PLAIN_PRICE = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,2}))?", re.ASCII)  # what parse_price_pence reads at once


class Problem(NamedTuple):
    """One thing wrong with a command: which field, and what to do about it."""

    field: str
    message: str

    @property
    def label(self) -> str:
        """The field as a person says it: "Customer", "Line 2 price"."""
        match = re.fullmatch(r"line\[(\d+)\]\.(\w+)", self.field)
        if match:
            return f"Line {match[1]} {match[2]}"
        return {"customer": "Customer", "lines": "Lines", "command_id": "Command id", "order_id": "Order id",
                "reason": "Reason"}.get(
            self.field, self.field
        )

    def __str__(self) -> str:
        return f"{self.label}: {self.message}"


class InvalidOrder(ValueError):
    """The command was refused; `problems` lists every reason."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class InvalidOrders(ValueError):
    """Some commands of a batch were refused, so none was accepted; `refused` maps each refused
    command's position in the batch (0-based) to its problems."""

    def __init__(self, refused: dict[int, tuple[Problem, ...]]) -> None:
        first = min(refused)
        more = f" (and {len(refused) - 1} more refused)" if len(refused) > 1 else ""
        super().__init__(f"order {first + 1}: " + "; ".join(str(p) for p in refused[first]) + more)
        self.refused = refused


@dataclass(frozen=True, slots=True)
class LineInput:
    """One order line as typed: the item label, the unit price in pounds ("4.99"), the quantity."""

    item: str
    price: str | Decimal
    quantity: str | int = 1


def new_command_id() -> str:
    """Time-ordered, as event ids are (`contracts.new_id`): the outbox's index of command ids is appended to."""
    return str(contracts.new_id())


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """The command: a customer orders some lines. `command_id` makes resubmission safe."""

    customer_id: str
    lines: tuple[LineInput, ...]
    command_id: str = field(default_factory=new_command_id)

    def __post_init__(self) -> None:
        if not isinstance(self.lines, tuple):
            object.__setattr__(self, "lines", tuple(self.lines))


@dataclass(frozen=True, slots=True)
class ValidOrder:
    """A command that passed validation: ids and names as `customer_id_of` / `item_name_of` give them,
    prices in integer pence."""

    customer_id: str
    command_id: str
    lines: tuple[contracts.OrderLine, ...]

    def to_event(self, source: str) -> contracts.EventEnvelope:
        """The one OrderPlaced event this order becomes (fresh event_id and order_id)."""
        return contracts.new_order_placed(
            customer_id=self.customer_id, command_id=self.command_id, lines=self.lines, source=source
        )


def validate(cmd: PlaceOrder) -> tuple[Problem, ...]:
    """Every problem of the command; empty when it is valid. Never raises for odd input."""
    return _examine(cmd)[1]


def check(cmd: PlaceOrder) -> ValidOrder:
    """The valid order, or InvalidOrder listing every problem."""
    valid, problems = _examine(cmd)
    if valid is None:
        raise InvalidOrder(problems)
    return valid


def parse_price_pence(text: object) -> int:
    """Pounds as written ("4.99", "£4.99") to integer pence. Raises ValueError with a readable reason.

    Accepts digits with an optional point and at most 2 decimals, an optional leading "£", and
    surrounding spaces. Refuses NaN, infinity, exponents, signs, thousands separators and empty text.
    """
    if type(text) is str:  # the common case, digits with at most 2 decimals: no Decimal needed
        plain = _PLAIN_PRICE.fullmatch(text)
        if plain is not None:
            pence = int(plain[1]) * 100 + int((plain[2] or "0").ljust(2, "0"))
            if 0 < pence <= contracts.MAX_PRICE_PENCE:
                return pence
    if isinstance(text, Decimal):
        text = format(text, "f") if text.is_finite() else str(text)
    if not isinstance(text, str):
        raise ValueError("must be an amount in pounds, such as 4.99")
    amount = text.strip()
    if amount.startswith(_POUND_SIGN):
        amount = amount[len(_POUND_SIGN):].lstrip()
    if not amount:
        raise ValueError("is required")
    if amount[0] in "+-\u2212":
        raise ValueError("must not have a sign")
    if amount.lower() in {"nan", "snan", "inf", "infinity"}:
        raise ValueError("must be a finite amount")
    if not _PLAIN_AMOUNT.fullmatch(amount):
        if _GROUPED_AMOUNT.fullmatch(amount):
            raise ValueError("must not contain thousands separators (write 1000.00)")
        if "e" in amount.lower() and _is_decimal_number(amount):
            raise ValueError("must be written without an exponent")
        raise ValueError("must be an amount in pounds, such as 4.99")
    _, _, decimals = amount.partition(".")
    if len(decimals) > 2:
        raise ValueError("at most 2 decimal places")
    pounds = Decimal(amount)  # exact: construction from a string never rounds
    if pounds <= 0:
        raise ValueError("must be more than 0")
    if pounds > _MAX_POUNDS:
        raise ValueError(f"must be at most {_MAX_POUNDS:,.2f}")
    return int(pounds.scaleb(2))  # at most 2 decimals and 10 digits: exact


def parse_quantity(value: object) -> int:
    """A whole number from 1 to MAX_QUANTITY, given as int or digits. Raises ValueError with a reason."""
    if type(value) is str and len(value) <= 5 and value.isascii() and value.isdigit() \
            and 1 <= int(value) <= contracts.MAX_QUANTITY:
        return int(value)  # the common case: a few plain digits, in range
    if isinstance(value, bool):
        raise ValueError("must be a whole number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        digits = value.strip()
        if not digits:
            raise ValueError("is required")
        if not _WHOLE_NUMBER.fullmatch(digits):
            raise ValueError("must be a whole number")
        significant = digits.lstrip("0") or "0"
        number = int(significant) if len(significant) <= 9 else contracts.MAX_QUANTITY + 1
    else:
        raise ValueError("must be a whole number")
    if not 1 <= number <= contracts.MAX_QUANTITY:
        raise ValueError(f"must be from 1 to {contracts.MAX_QUANTITY:,}")
    return number


def customer_id_of(value: object) -> str:
    """The customer id that typed text stands for, or ValueError with the reason. The one rule.

    Exact and case-sensitive: what the clerk typed is what is recorded, so "Alice" and "alice" are two
    customers (a completer may suggest a known id but never changes the text). Only surrounding
    whitespace is trimmed, and the text is put in Unicode NFC, so one visible spelling is one id ("é"
    typed as one code point or as "e" + combining accent); NFC changes nothing a clerk can see.
    Refused: empty text, more than MAX_CUSTOMER_ID characters, control characters, direction-control
    (bidi) characters, and text with no visible character (only zero-width or combining characters).
    """
    return _label_of(value, contracts.MAX_CUSTOMER_ID)


def item_name_of(value: object) -> str:
    """The item name that typed text stands for: the customer-id rule, up to MAX_ITEM characters.

    Exact and case-sensitive too: "Television" and "television" are two items.
    """
    return _label_of(value, contracts.MAX_ITEM)


def reason_of(value: object) -> str:
    """A free-text reason (of a cancellation): the label rule up to MAX_REASON characters, except that
    it may be empty (no reason given). Trimmed, NFC; no control or direction-control characters."""
    if isinstance(value, str) and not value.strip():
        return ""
    if not isinstance(value, str):
        raise ValueError("must be text")
    return _label_of(value, contracts.MAX_REASON)


def _label_of(value: object, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValueError("is required")
    text = value.strip()
    if not text:
        raise ValueError("is required")
    plain = text.isascii() and text.isprintable()  # printable ASCII: NFC, visible, no controls; no scan
    if not plain:
        text = unicodedata.normalize("NFC", text)
    if len(text) > max_length:
        raise ValueError(f"at most {max_length} characters (this has {len(text)})")
    if not plain:
        _refuse_unseen_or_controls(text)
    return text


def _refuse_unseen_or_controls(text: str) -> None:
    categories = [unicodedata.category(ch) for ch in text]
    if not _FORBIDDEN_CATEGORIES.isdisjoint(categories):
        raise ValueError("must not contain control characters")
    if not _DIRECTION_CONTROLS.isdisjoint(text):
        raise ValueError("must not contain direction-control characters")
    if all(category in _UNSEEN_CATEGORIES or ch in _BLANK_CHARACTERS for ch, category in zip(text, categories)):
        raise ValueError("must contain a visible character")
    hidden = next((ch for ch in text if ch in _INVISIBLE_INSIDE), None)
    if hidden is not None:
        raise ValueError(f"must not contain invisible characters (U+{ord(hidden):04X})")
    unreadable = next((ch for ch, category in zip(text, categories) if category in _UNREADABLE_CATEGORIES), None)
    if unreadable is not None:
        raise ValueError(f"must not contain private-use or unassigned characters (U+{ord(unreadable):04X})")


def check_command_id(value: object) -> str:
    """1..MAX_COMMAND_ID characters, no spaces or control characters. Not trimmed: it is a key."""
    if not isinstance(value, str) or not value:
        raise ValueError("is required")
    if len(value) > MAX_COMMAND_ID:
        raise ValueError(f"at most {MAX_COMMAND_ID} characters (this has {len(value)})")
    if not (value.isascii() and value.isprintable() and " " not in value) and any(  # the common case: no scan
        ch.isspace() or unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value
    ):
        raise ValueError("must not contain spaces or control characters")
    return value


def _is_decimal_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def parse_noting(problems: list[Problem], field_name: str, parse: Callable[[Any], T], value: object) -> T | None:
    """parse(value), or None with its ValueError noted as a problem of `field_name`."""
    try:
        return parse(value)
    except ValueError as exc:
        problems.append(Problem(field_name, str(exc)))
        return None


def _examine(cmd: PlaceOrder) -> tuple[ValidOrder | None, tuple[Problem, ...]]:
    problems: list[Problem] = []

    customer_id = parse_noting(problems, "customer", customer_id_of, cmd.customer_id)
    command_id = parse_noting(problems, "command_id", check_command_id, cmd.command_id)

    lines, line_problems = examine_lines(cmd.lines)
    problems.extend(line_problems)

    if problems:
        return None, tuple(problems)
    assert customer_id is not None and command_id is not None
    return ValidOrder(customer_id=customer_id, command_id=command_id, lines=lines), ()


def examine_lines(raw: object) -> tuple[tuple[contracts.OrderLine, ...], tuple[Problem, ...]]:
    """The order lines as typed, checked: (the valid lines, every problem). The one line rule, for
    placing and amending alike; the lines count only when there are no problems."""
    problems: list[Problem] = []
    raw_lines = raw if isinstance(raw, tuple) else ()
    if not raw_lines:
        problems.append(Problem("lines", "at least one line is required"))
    elif len(raw_lines) > contracts.MAX_LINES:
        problems.append(Problem("lines", f"at most {contracts.MAX_LINES} lines (this has {len(raw_lines)})"))

    lines: list[contracts.OrderLine] = []
    for number, line in enumerate(raw_lines, start=1):
        if not isinstance(line, LineInput):
            problems.append(Problem(f"line[{number}].item", "is not an order line"))
            continue
        try:  # a valid line at once; a refused one again below, noting each problem under its field name
            lines.append(contracts.OrderLine(item=item_name_of(line.item),
                                             unit_price_pence=parse_price_pence(line.price),
                                             quantity=parse_quantity(line.quantity)))
            continue
        except ValueError:
            pass
        parse_noting(problems, f"line[{number}].item", item_name_of, line.item)
        parse_noting(problems, f"line[{number}].price", parse_price_pence, line.price)
        parse_noting(problems, f"line[{number}].quantity", parse_quantity, line.quantity)
    return tuple(lines), tuple(problems)
