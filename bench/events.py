"""Realistic, reproducible orders for the benchmarks, as commands or as pre-encoded Kafka records.

A store with 1,000 customers and 5,000 items. Each item has one unit price; the prices cover every band,
including both sides of each band edge. An order has 1-5 lines. Item popularity is either skewed
(Zipf, s = 1.1: a few items are in most orders) or uniform. Everything follows from the seed.

A log can also hold cancellations (`OrderGenerator.events` with a cancel share): each one is the OrderCancelled
of an earlier, still placed order of the same stream, keyed (like the order) by its customer id, so it lands on
the order's partition after it. The orders are the plain stream's, in the same order, with the cancellations
between them.

Records are encoded by hand (an f-string per event) so that a million of them take seconds, not minutes;
`encode_order` and `encode_cancellation` produce exactly the bytes `contracts.encode` would (a unit test keeps
it so).
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import msgspec

from desktop_app import contracts
from desktop_app.command.model import LineInput, PlaceOrder

CUSTOMERS = 1_000
ITEMS = 5_000
ZIPF_S = 1.1
MAX_LINES = 5
EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
SOURCE = "bench"
HEADERS = list(contracts.headers_of(contracts.ORDER_PLACED))
CANCEL_HEADERS = list(contracts.headers_of(contracts.ORDER_CANCELLED))
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers
CANCEL_REASONS = ["changed their mind", "ordered twice", "out of stock", ""]
CANCEL_WINDOW = 50_000  # a cancellation names one of the last this many orders (so the ring stays small)
CANCEL_TRIES = 4  # picks of an already cancelled order before placing an order instead
EDGE_PRICES = [1, 499, 500, 5000, 5001, contracts.MAX_PRICE_PENCE]  # both sides of each band edge, and the cap
_ADJECTIVES = ["Blue", "Red", "Large", "Small", "Organic", "Classic", "Steel", "Oak", "Linen", "Glass", "Smart",
               "Travel", "Vintage", "Deluxe", "Mini", "Family"]
_NOUNS = ["Tea", "Mug", "Kettle", "Lamp", "Chair", "Desk", "Pen", "Notebook", "Rug", "Clock", "Teapot", "Blanket",
          "Backpack", "Candle", "Frame", "Speaker", "Sofa", "Bike", "Watch", "Camera"]
_QUANTITIES = [1] * 12 + [2] * 5 + [3] * 2 + [4, 5, 6, 10, 12, 24]


@dataclass(frozen=True, slots=True)
class Order:
    """One order: what the generator makes, whether sent as a command or as an event."""

    index: int
    customer_id: str
    lines: tuple[tuple[str, int, int], ...]  # (item, unit price pence, quantity)
    event_id: uuid.UUID
    order_id: uuid.UUID
    command_id: str
    occurred_at: datetime

    def command(self) -> PlaceOrder:
        """The order as typed at the counter: prices in pounds as text."""
        return PlaceOrder(
            self.customer_id,
            tuple(LineInput(item, pounds(pence), str(quantity)) for item, pence, quantity in self.lines),
            self.command_id,
        )

    def event(self) -> contracts.EventEnvelope:
        return msgspec.structs.replace(contracts.new_order_placed(
            customer_id=self.customer_id, command_id=self.command_id, source=SOURCE,
            lines=[contracts.OrderLine(item=i, unit_price_pence=p, quantity=q) for i, p, q in self.lines],
            order_id=self.order_id, occurred_at=self.occurred_at,
        ), event_id=self.event_id)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """The OrderCancelled of an earlier order of the stream; `index` is its position in the log."""

    index: int
    order_id: uuid.UUID
    customer_id: str
    event_id: uuid.UUID
    command_id: str
    reason: str
    occurred_at: datetime

    def event(self) -> contracts.CancelEnvelope:
        return msgspec.structs.replace(contracts.new_order_cancelled(
            order_id=self.order_id, customer_id=self.customer_id, command_id=self.command_id, reason=self.reason,
            source=SOURCE, occurred_at=self.occurred_at,
        ), event_id=self.event_id)


def pounds(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"


def _utc_text(moment: datetime) -> str:
    """A UTC time as contracts.event_json writes it: seconds, microseconds only when not zero, then Z."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def encode_order(order: Order) -> tuple[bytes, bytes]:
    """(key, value) of the order's OrderPlaced event, byte for byte as contracts.encode writes them."""
    lines = ",".join(
        f'{{"item":"{item}","unit_price_pence":{price},"quantity":{quantity}}}' for item, price, quantity in order.lines
    )
    value = (
        f'{{"event_id":"{order.event_id}","event_type":"OrderPlaced","schema_version":1,'
        f'"occurred_at":"{_utc_text(order.occurred_at)}","source":"{SOURCE}",'
        f'"payload":{{"order_id":"{order.order_id}","customer_id":"{order.customer_id}",'
        f'"command_id":"{order.command_id}","lines":[{lines}]}}}}'
    )
    return order.customer_id.encode(), value.encode()


def encode_cancellation(cancel: Cancellation) -> tuple[bytes, bytes]:
    """(key, value) of an OrderCancelled event, byte for byte as contracts.encode writes them."""
    value = (
        f'{{"event_id":"{cancel.event_id}","event_type":"OrderCancelled","schema_version":1,'
        f'"occurred_at":"{_utc_text(cancel.occurred_at)}","source":"{SOURCE}",'
        f'"payload":{{"order_id":"{cancel.order_id}","customer_id":"{cancel.customer_id}",'
        f'"command_id":"{cancel.command_id}","reason":"{cancel.reason}"}}}}'
    )
    return cancel.customer_id.encode(), value.encode()


def encode_event(event: Order | Cancellation) -> Record:
    """(key, value, headers) of either kind of event."""
    if isinstance(event, Cancellation):
        return (*encode_cancellation(event), CANCEL_HEADERS)
    return (*encode_order(event), HEADERS)


@dataclass(frozen=True)
class Store:
    customers: list[str]
    items: list[str]
    prices: list[int]  # unit price in pence, per item

    @classmethod
    def make(cls, seed: int, customers: int = CUSTOMERS, items: int = ITEMS) -> Store:
        rng = random.Random(f"store-{seed}")
        names = []
        for number in range(items):
            adjective = _ADJECTIVES[rng.randrange(len(_ADJECTIVES))]
            noun = _NOUNS[rng.randrange(len(_NOUNS))]
            names.append(f"{adjective} {noun} {number + 1}")
        prices = [EDGE_PRICES[n] if n < len(EDGE_PRICES) else _price(rng) for n in range(items)]
        return cls([f"cust-{n + 1:04d}" for n in range(customers)], names, prices)


def _price(rng: random.Random) -> int:
    """Roughly 40% cheap (< £5), 45% affordable (£5-£50), 15% expensive (> £50, up to £2,000)."""
    band = rng.random()
    if band < 0.40:
        return rng.randint(1, 499)
    if band < 0.85:
        return rng.randint(500, 5000)
    return int(math.exp(rng.uniform(math.log(5001), math.log(200_000))))


class OrderGenerator:
    """Orders `start .. start+count-1` of one seeded stream. `skew`: Zipf exponent, or None for uniform."""

    def __init__(self, seed: int = 7, *, skew: float | None = ZIPF_S, customers: int = CUSTOMERS,
                 items: int = ITEMS, prefix: str = "bench") -> None:
        self.seed = seed
        self.skew = skew
        self.prefix = prefix
        self.store = Store.make(seed, customers, items)
        ranks = list(range(items))
        random.Random(f"ranks-{seed}").shuffle(ranks)  # popularity is independent of price
        self._by_rank = ranks
        weights = [1.0 / (rank + 1) ** skew for rank in range(items)] if skew else [1.0] * items
        self._cumulative = list(itertools.accumulate(weights))

    def orders(self, count: int, start: int = 0) -> Iterator[Order]:
        rng = random.Random(f"orders-{self.seed}-{self.skew}-{start}")
        store = self.store
        line_counts = rng.choices(range(1, MAX_LINES + 1), k=count)
        ranks = rng.choices(range(len(self._by_rank)), cum_weights=self._cumulative, k=sum(line_counts))
        quantities = rng.choices(_QUANTITIES, k=len(ranks))
        customers = rng.choices(store.customers, k=count)
        getrandbits = rng.getrandbits
        position = 0
        for offset, (customer, lines_in_order) in enumerate(zip(customers, line_counts, strict=True)):
            lines = []
            for _ in range(lines_in_order):
                item = self._by_rank[ranks[position]]
                lines.append((store.items[item], store.prices[item], quantities[position]))
                position += 1
            index = start + offset
            yield Order(
                index=index,
                customer_id=customer,
                lines=tuple(lines),
                event_id=uuid.UUID(int=getrandbits(128), version=4),
                order_id=uuid.UUID(int=getrandbits(128), version=4),
                command_id=f"{self.prefix}-{self.seed}-{index}",
                occurred_at=EPOCH + timedelta(milliseconds=index),
            )

    def records(self, count: int, start: int = 0) -> list[tuple[bytes, bytes]]:
        return [encode_order(order) for order in self.orders(count, start)]

    def events(self, count: int, start: int = 0, cancel_share: float = 0.0) -> Iterator[Order | Cancellation]:
        """`count` events from position `start`: about `cancel_share` of them cancellations, the rest orders.

        The orders are those of `orders(count, start)`, in order (fewer of them when some events are
        cancellations). A cancellation names one of the last CANCEL_WINDOW orders of this call, still placed,
        with that order's customer id; so every cancellation applies, and cancels an order once.
        """
        if not 0.0 <= cancel_share < 1.0:
            raise ValueError(f"the cancel share must be in [0, 1), not {cancel_share}")
        rng = random.Random(f"cancels-{self.seed}-{self.skew}-{start}")
        orders = self.orders(count, start)
        recent: list[tuple[uuid.UUID, str] | None] = [None] * min(count, CANCEL_WINDOW)
        placed = 0
        cancelled = 0
        for position in range(start, start + count):
            target = None
            if placed and cancel_share and rng.random() < cancel_share:
                for _ in range(CANCEL_TRIES):
                    slot = rng.randrange(min(placed, len(recent)))
                    if recent[slot] is not None:
                        target, recent[slot] = recent[slot], None
                        break
            if target is None:
                order = next(orders)
                recent[placed % len(recent)] = (order.order_id, order.customer_id)
                placed += 1
                yield order
                continue
            order_id, customer_id = target
            yield Cancellation(
                index=position,
                order_id=order_id,
                customer_id=customer_id,
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                command_id=f"{self.prefix}-{self.seed}-cancel-{position}",
                reason=CANCEL_REASONS[cancelled % len(CANCEL_REASONS)],
                occurred_at=EPOCH + timedelta(milliseconds=position),
            )
            cancelled += 1

    def event_records(self, count: int, start: int = 0, cancel_share: float = 0.0) -> Iterator[Record]:
        return (encode_event(event) for event in self.events(count, start, cancel_share))


def distinct_rows_orders(rows: int, seed: int = 11, lines_per_order: int = 4) -> list[Order]:
    """Orders that create exactly `rows` distinct view rows (customer, item, price), over every band.

    Used to fill the window before the GUI benchmark: each line is a (customer, item) pair no other line has.
    """
    store = Store.make(seed)
    rng = random.Random(f"rows-{seed}")
    per_customer = -(-rows // len(store.customers))
    if per_customer > len(store.items):
        raise ValueError(f"at most {len(store.customers) * len(store.items)} distinct rows")
    lines = [
        (customer, (customer * 7 + k) % len(store.items))
        for k in range(per_customer) for customer in range(len(store.customers))
    ][:rows]
    lines.sort()
    orders = []
    for customer, pairs in itertools.groupby(lines, key=lambda pair: pair[0]):
        items = [item for _, item in pairs]
        for first in range(0, len(items), lines_per_order):
            index = len(orders)
            orders.append(Order(
                index=index,
                customer_id=store.customers[customer],
                lines=tuple((store.items[i], store.prices[i], rng.choice(_QUANTITIES))
                            for i in items[first:first + lines_per_order]),
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                order_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                command_id=f"rows-{seed}-{index}",
                occurred_at=EPOCH + timedelta(milliseconds=index),
            ))
    return orders
