"""CancelOrder and AmendOrder: their validation, what they are checked against, the events they become.

`validate_change(cmd)` gives every problem of the command as typed, like `model.validate`; fields are
"order_id", "reason", "customer", "command_id" and, for an amend, the line fields of PlaceOrder (the
same rule: `model.examine_lines`). `accept_change` then checks the order itself and commits the events
to the outbox in one transaction:
- a cancel is one OrderCancelled of the order;
- an amend is the OrderCancelled of the old order and a new OrderPlaced with `replaces` = the old order,
  for the same customer: both or neither, the cancel first (lower seq, so it lands first in the
  customer's partition). The new order's row is keyed by the command id (its receipt is the amend's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from desktop_app import contracts
from desktop_app.command import model
from desktop_app.command.model import InvalidOrder, LineInput, Problem, new_command_id, parse_noting
from desktop_app.command.order_lookup import KnownOrder, LookupUnavailable, OrderLookup
from desktop_app.command.outbox import CANCELS_KEY, CommandIdReused, Outbox, OutboxChange, OwnOrder, Receipt

DEFAULT_AMEND_REASON = "amended"


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """The command: cancel an order. `customer_id`, when given, must be the order's customer."""

    order_id: str
    reason: str = ""
    command_id: str = field(default_factory=new_command_id)
    customer_id: str | None = None


@dataclass(frozen=True, slots=True)
class AmendOrder:
    """The command: replace an order's lines (the old order is cancelled, a new one placed)."""

    order_id: str
    lines: tuple[LineInput, ...]
    reason: str = DEFAULT_AMEND_REASON
    command_id: str = field(default_factory=new_command_id)
    customer_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.lines, tuple):
            object.__setattr__(self, "lines", tuple(self.lines))


OrderChange = CancelOrder | AmendOrder


@dataclass(frozen=True, slots=True)
class _Draft:
    """What parsed of a change command (None where it did not)."""

    order_id: uuid.UUID | None
    command_id: str | None
    customer_id: str | None
    reason: str | None
    lines: tuple[contracts.OrderLine, ...] | None  # None for a cancel


def order_id_of(value: object) -> uuid.UUID:
    """An order id as typed (a UUID, any case, surrounding spaces ignored), or ValueError."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is required")
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise ValueError("is not an order id") from None


def validate_change(cmd: OrderChange) -> tuple[Problem, ...]:
    """Every problem of the command as typed, without looking at any order. Never raises for odd input."""
    return _examine(cmd)[1]


def _examine(cmd: OrderChange) -> tuple[_Draft, tuple[Problem, ...]]:
    problems: list[Problem] = []
    order_id = parse_noting(problems, "order_id", order_id_of, cmd.order_id)
    customer_id = None
    if cmd.customer_id is not None:
        customer_id = parse_noting(problems, "customer", model.customer_id_of, cmd.customer_id)
    reason = parse_noting(problems, "reason", model.reason_of, cmd.reason)
    command_id = parse_noting(problems, "command_id", model.check_command_id, cmd.command_id)
    lines = None
    if isinstance(cmd, AmendOrder):
        lines, line_problems = model.examine_lines(cmd.lines)
        problems.extend(line_problems)
    return _Draft(order_id, command_id, customer_id, reason, lines), tuple(problems)


def judge(order_id: uuid.UUID, customer_id: str | None, own: OwnOrder | None,
          known: KnownOrder | LookupUnavailable | None) -> tuple[str | None, tuple[Problem, ...]]:
    """(the order's customer, the problems of changing it) from what the outbox and the lookup know.

    The outbox comes first: it knows this desk's own accepted facts at once, even unpublished (a cancel
    right after a place, before the projector saw it; a second cancel of the same order). The lookup
    (the query side's view) knows other desks' orders and their cancellations, but lags behind the log.
    Neither is the last word: the projector is the final judge and ignores a cancellation that turns out
    wrong (say, a race with another desk), changing no row.
    """
    problems: list[Problem] = []
    customer = own.placed.customer_id if own is not None and own.placed is not None else None
    if customer is None and isinstance(known, KnownOrder):
        customer = known.customer_id
    replaced_by = (own.replaced_by if own is not None else None) or (
        known.replaced_by if isinstance(known, KnownOrder) else None)
    if replaced_by is not None:  # say where the order went: the clerk means the order that replaced it
        problems.append(Problem("order_id", f"order {order_id} was replaced by order {replaced_by} (amended)"))
    elif (own is not None and own.cancelled) or (isinstance(known, KnownOrder) and not known.standing):
        problems.append(Problem("order_id", f"order {order_id} is already cancelled"))
    elif customer is None:
        if isinstance(known, LookupUnavailable):
            problems.append(Problem("order_id", f"cannot check order {order_id} now: {known}"))
        else:
            problems.append(Problem("order_id", f"no order {order_id} is known"))
    if customer is not None and customer_id is not None and customer_id != customer:
        problems.append(Problem("customer", f"order {order_id} is for customer {customer}, not {customer_id}"))
    return customer, tuple(problems)


def events_of(draft: _Draft, customer: str, source: str) -> list[tuple[str, contracts.Event]]:
    """The (outbox key, event) pairs the change becomes, in the order they are to be published."""
    assert draft.order_id is not None and draft.command_id is not None and draft.reason is not None
    at = datetime.now(timezone.utc)
    cancelled = contracts.new_order_cancelled(order_id=draft.order_id, customer_id=customer,
                                              command_id=draft.command_id, reason=draft.reason,
                                              source=source, occurred_at=at)
    if draft.lines is None:
        return [(draft.command_id, cancelled)]
    placed = contracts.new_order_placed(customer_id=customer, command_id=draft.command_id, lines=draft.lines,
                                        source=source, occurred_at=at, replaces=draft.order_id)
    return [(draft.command_id + CANCELS_KEY, cancelled), (draft.command_id, placed)]


def accept_change(outbox: Outbox, cmd: OrderChange, lookup: OrderLookup | None,
                  source: str) -> tuple[Receipt, bool]:
    """Check the change and commit its events in ONE outbox transaction. Returns (receipt, newly accepted).

    Raises InvalidOrder (writing nothing) with every problem, or CommandIdReused. A command id seen
    before returns its first receipt (for an amend, the new order's) and adds nothing, whatever became
    of the order since. Blocking: run it in a worker thread.
    """
    draft, problems = _examine(cmd)
    known: KnownOrder | LookupUnavailable | None = None
    repeat = draft.command_id is not None and outbox.receipt(draft.command_id) is not None
    if draft.order_id is not None and lookup is not None and not repeat:
        try:  # asked before the transaction: the outbox's write lock does not wait for the view
            known = lookup.known_order(draft.order_id)
        except LookupUnavailable as exc:
            known = exc
    with outbox.change() as change:
        if not problems:
            first = change.stored(draft.command_id)  # type: ignore[arg-type]
            if first is not None:
                return _resubmitted(change, draft, first.event.payload.customer_id, source, first.receipt), False
        customer = None
        if draft.order_id is not None:
            customer, state_problems = judge(draft.order_id, draft.customer_id, change.own_order(draft.order_id),
                                             known)
            problems += state_problems
        if problems:
            raise InvalidOrder(problems)
        assert customer is not None
        receipts = [change.add(key, event) for key, event in events_of(draft, customer, source)]
    return receipts[-1], True


def _resubmitted(change: OutboxChange, draft: _Draft, customer: str, source: str, receipt: Receipt) -> Receipt:
    """The first receipt, if the command is the one stored under its id; CommandIdReused if not."""
    for key, event in events_of(draft, draft.customer_id or customer, source):
        stored = change.stored(key)
        if stored is None:
            raise CommandIdReused(event.payload.command_id)
        change.check_same(stored, event)
    return receipt
