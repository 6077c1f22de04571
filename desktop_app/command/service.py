"""CommandService: the write side's one entry point. No Qt; async, never blocks the event loop for long.

    service = CommandService(db_path, client_kwargs, topic, source)   # orders accepted from now on go to topic
    await service.start()                       # opens the outbox, starts the relay
    receipt = await service.place_order(cmd)    # InvalidOrder, or an "accepted" receipt
    receipts = await service.place_orders(cmds) # many at once, in one transaction: all or none
    receipt = await service.cancel_order(CancelOrder(order_id, reason))      # InvalidOrder, or a receipt
    receipt = await service.amend_order(AmendOrder(order_id, lines))         # the new order's receipt
    receipt = await service.wait_published(cmd.command_id, timeout=5)
    await service.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from desktop_app.command import model, order_changes
from desktop_app.command.model import InvalidOrder, InvalidOrders, PlaceOrder, Problem
from desktop_app.command.order_changes import AmendOrder, CancelOrder, OrderChange
from desktop_app.command.order_lookup import OrderLookup
from desktop_app.command.outbox import Outbox, Receipt
from desktop_app.command.relay import Relay, RelayOptions
from desktop_app.settings import check_topic_name

log = logging.getLogger(__name__)

MAX_SOURCE = 256
_POLL_S = 0.2  # wait_published also sees receipts published by another process's relay


class ServiceNotStarted(RuntimeError):
    pass


class CommandService:
    def __init__(
        self,
        db_path: Path,
        client_kwargs: dict[str, Any],
        topic: str,
        source: str,
        *,
        relay_options: RelayOptions | None = None,
        stop_flush_s: float = 2.0,
        provision_topic: Callable[[str], Awaitable[object]] | None = None,
        order_lookup: OrderLookup | None = None,
    ) -> None:
        """`topic`: where the orders this service accepts are published (the outbox records it per order;
        orders queued earlier for another topic still go there, provisioned by `provision_topic`).
        `order_lookup`: what the log's view knows of orders, for cancel and amend; without it, only the
        orders this desk's outbox accepted can be cancelled or amended."""
        if not source or len(source) > MAX_SOURCE:
            raise ValueError(f"source must be 1..{MAX_SOURCE} characters")
        self.db_path = Path(db_path)
        self.topic = check_topic_name(topic)
        self._provision_topic = provision_topic
        self._order_lookup = order_lookup
        self.source = source
        self._client_kwargs = dict(client_kwargs)
        self._relay_options = relay_options
        self._stop_flush_s = stop_flush_s
        self._outbox: Outbox | None = None
        self._relay: Relay | None = None
        self._status_listeners: list[Callable[[], None]] = []

    @property
    def client_kwargs(self) -> dict[str, Any]:
        """The aiokafka client arguments the relay uses (a copy)."""
        return dict(self._client_kwargs)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the outbox and start the relay. Does not need the broker to be reachable."""
        if self._outbox is not None:
            return
        self._outbox = await asyncio.to_thread(Outbox, self.db_path, self.topic)
        self._relay = Relay(
            self._outbox,
            self._client_kwargs,
            lock_path=self.db_path.with_name(self.db_path.name + ".relay.lock"),
            options=self._relay_options,
            on_status=self._status_changed,
            provision_topic=self._provision_topic,
        )
        self._relay.start()

    async def stop(self) -> None:
        """Stop the relay (publishing what it can within a couple of seconds) and close the outbox."""
        relay, outbox = self._relay, self._outbox
        self._relay = self._outbox = None
        if relay is not None:
            await relay.stop(self._stop_flush_s)
        if outbox is not None:
            outbox.close()

    async def __aenter__(self) -> CommandService:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- commands ------------------------------------------------------------------------------
    @staticmethod
    def validate(cmd: PlaceOrder) -> tuple[Problem, ...]:
        """Every problem of the command, without touching any store or broker."""
        return model.validate(cmd)

    async def place_order(self, cmd: PlaceOrder) -> Receipt:
        """Accept the order: its event is committed to the outbox when this returns.

        Raises InvalidOrder (writing nothing) or CommandIdReused. A command_id seen before returns
        its first receipt and adds no event.
        """
        valid = model.check(cmd)
        outbox, relay = self._started()
        receipt, created = await asyncio.to_thread(outbox.accept, valid.to_event(self.source))
        if created:
            relay.wake()
        return receipt

    async def place_orders(self, cmds: Sequence[PlaceOrder]) -> list[Receipt]:
        """Accept many orders at once (an import, a bulk entry): ONE outbox transaction, all or none.

        Much faster than one place_order per order, which waits for its own sync to disk. Validation and
        the write run in a worker thread. Raises InvalidOrders (writing nothing) if any command is invalid,
        CommandIdReused (writing nothing) if any command id was used for a different order. Receipts come
        back in order; a command id seen before (in the outbox or earlier in the batch) gets its first receipt.
        """
        outbox, relay = self._started()
        receipts, created = await asyncio.to_thread(self._accept_all, outbox, list(cmds))
        if created:
            relay.wake()
        return receipts

    def _accept_all(self, outbox: Outbox, cmds: list[PlaceOrder]) -> tuple[list[Receipt], bool]:
        valid: list[model.ValidOrder] = []
        refused: dict[int, tuple[Problem, ...]] = {}
        for position, cmd in enumerate(cmds):
            try:
                valid.append(model.check(cmd))
            except InvalidOrder as exc:
                refused[position] = exc.problems
        if refused:
            raise InvalidOrders(refused)
        outcomes = outbox.accept_many([order.to_event(self.source) for order in valid])
        return [receipt for receipt, _ in outcomes], any(created for _, created in outcomes)

    @staticmethod
    def validate_change(cmd: OrderChange) -> tuple[Problem, ...]:
        """Every problem of a cancel or amend as typed, without looking at the order."""
        return order_changes.validate_change(cmd)

    async def cancel_order(self, cmd: CancelOrder) -> Receipt:
        """Accept the cancellation: its OrderCancelled is committed to the outbox when this returns.

        Raises InvalidOrder (writing nothing): a malformed command, an unknown order, one already cancelled,
        one of another customer than `cmd.customer_id`. A command_id seen before returns its first receipt.
        """
        return await self._change(cmd)

    async def amend_order(self, cmd: AmendOrder) -> Receipt:
        """Replace the order's lines: its OrderCancelled and a new OrderPlaced naming it, in ONE outbox
        transaction. Returns the new order's receipt; raises as `cancel_order`, and for the lines as
        `place_order`."""
        return await self._change(cmd)

    async def _change(self, cmd: OrderChange) -> Receipt:
        outbox, relay = self._started()
        receipt, created = await asyncio.to_thread(
            order_changes.accept_change, outbox, cmd, self._order_lookup, self.source
        )
        if created:
            relay.wake()
        return receipt

    # -- queries -------------------------------------------------------------------------------
    def receipt(self, command_id: str) -> Receipt | None:
        return self._started()[0].receipt(command_id)

    def pending_count(self) -> int:
        """Accepted events not yet acknowledged by the broker."""
        return self._started()[0].pending_count()

    async def wait_published(self, command_id: str, timeout: float) -> Receipt:
        """The receipt once published. Raises TimeoutError after `timeout` s, KeyError if unknown."""
        outbox, relay = self._started()
        async with asyncio.timeout(timeout):
            while True:
                receipt = outbox.receipt(command_id)
                if receipt is None:
                    raise KeyError(f"no order with command id {command_id!r}")
                if receipt.status == "published":
                    return receipt
                await relay.wait_progress(_POLL_S)

    @property
    def relay_connected(self) -> bool:
        """True while the relay's producer reaches the broker."""
        return self._relay is not None and self._relay.connected

    @property
    def relay_active(self) -> bool:
        """False when another Order Desk process is relaying this outbox (this one waits on standby)."""
        return self._relay is not None and self._relay.active

    @property
    def last_error(self) -> str | None:
        return None if self._relay is None else self._relay.last_error

    def add_status_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback()` (on the event loop) whenever relay_connected or last_error changes."""
        self._status_listeners.append(callback)

    def _status_changed(self) -> None:
        for callback in list(self._status_listeners):
            try:
                callback()
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the relay
                log.exception("status listener %r failed", callback)

    def _started(self) -> tuple[Outbox, Relay]:
        if self._outbox is None or self._relay is None:
            raise ServiceNotStarted("CommandService.start() has not been awaited")
        return self._outbox, self._relay


__all__ = ["AmendOrder", "CancelOrder", "CommandService", "InvalidOrder", "InvalidOrders", "PlaceOrder", "Problem", "Receipt", "ServiceNotStarted"]
