"""The reads a QueryService answers: the view's rows and totals, and lag, over its current read model.

A read that finds the file damaged starts the projecting service's heal (engine.py, healing.py) and raises
ViewUnavailable with one line; so does a read while the view is being rebuilt after damage.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiokafka.errors import KafkaError

from desktop_app.query import schema
from desktop_app.query.as_of import AsOfJob
from desktop_app.query.bands import Band
from desktop_app.query.day_values import DayValues
from desktop_app.query.event_log import EventLog, ViewVerdicts
from desktop_app.query.log_reader import LogReadError, read_records_blocking
from desktop_app.query.orders_view import IgnoredRow, OrderDetail, OrderRow, OrderStatus
from desktop_app.query.raw_event import RawEvent
from desktop_app.query.row_history import OrderHistory, RowHistory
from desktop_app.query.view_health import DamagedView, ViewUnavailable
from desktop_app.query.views import DEFAULT_ORDER, ItemRow, Lag, QuarantinedRow, ReadModel, Summary, compute_lag

if TYPE_CHECKING:
    from desktop_app.query.healing import ViewHealer
    from desktop_app.query.runner import BackgroundProjector

T = TypeVar("T")
log = logging.getLogger(__name__)


class ViewReads:
    """Mixed into QueryService, which provides the attributes and offsets below."""

    read_model: ReadModel
    topic: str
    db_path: Path
    _client_kwargs: dict[str, Any]
    _runner: BackgroundProjector | None
    _healer: ViewHealer

    @property
    def health(self) -> str | None:
        """One line while the view is rebuilt after damage (here or elsewhere), for the CLI and status bar."""
        return self._healer.health

    @property
    def outdated_reason(self) -> str | None:
        """Why the view is due for a rebuild (another projection version built it), or None: for the CLI to
        say that what it shows may miss what the newer projection adds (orders, say) until then."""
        built_with = self.read_model.projection_version()
        if built_with is None or built_with == schema.PROJECTION_VERSION:
            return None
        return f"projection version changed from {built_with} to {schema.PROJECTION_VERSION}"

    @property
    def view_path(self) -> Path:
        """The file of the current generation of the view (see view_files)."""
        return self.read_model.view_path

    def _damage_found(self, reason: str) -> bool:
        """Start the heal of the damaged view, if this service projects it and is not healing yet; True if so."""
        raise NotImplementedError

    def end_offsets(self, timeout: float = 10.0) -> dict[int, int]:
        raise NotImplementedError

    def stored_offsets(self) -> dict[int, int]:
        raise NotImplementedError

    def _reading(self, work: Callable[[], T]) -> T:
        """A read; one that finds the file damaged starts the heal (when this service projects)."""
        try:
            return work()
        except DamagedView as damaged:
            if not self._damage_found(damaged.reason):
                raise
            raise ViewUnavailable(f"read model {damaged.path} was damaged ({damaged.reason}); "
                                  "rebuilding from the log") from None

    # -- reads --------------------------------------------------------------------------------------------------
    def items(
        self,
        band: Band | str | None = None,
        customer: str | None = None,
        search: str | None = None,
        order_by: Sequence[str] = DEFAULT_ORDER,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[ItemRow]:
        return self._reading(lambda: self.read_model.items(band, customer, search, order_by, descending, limit, offset))

    def count_items(
        self, band: Band | str | None = None, customer: str | None = None, search: str | None = None
    ) -> int:
        return self._reading(lambda: self.read_model.count_items(band, customer, search))

    def value_of_items(
        self, band: Band | str | None = None, customer: str | None = None, search: str | None = None
    ) -> int:
        """The £ value (in pence) of the rows these filters select: quantity x unit price, summed."""
        return self._reading(lambda: self.read_model.value_of_items(band, customer, search))

    def rows_for_keys(self, keys: Iterable[tuple[str, Band | str]]) -> list[ItemRow]:
        return self._reading(lambda: self.read_model.rows_for_keys(keys))

    # -- orders (see orders_view) -------------------------------------------------------------------------------
    def orders(self, customer: str | None = None, status: OrderStatus | str | None = None,
               search: str | None = None, limit: int | None = None, offset: int = 0) -> list[OrderRow]:
        return self._reading(lambda: self.read_model.orders(customer, status, search, limit, offset))

    def count_orders(self, customer: str | None = None, status: OrderStatus | str | None = None,
                     search: str | None = None) -> int:
        return self._reading(lambda: self.read_model.count_orders(customer, status, search))

    def order(self, order_id: uuid.UUID | str) -> OrderDetail | None:
        return self._reading(lambda: self.read_model.order(order_id))

    def orders_behind(self, customer_id: str, item: str, unit_price_pence: int) -> list[OrderRow]:
        return self._reading(lambda: self.read_model.orders_behind(customer_id, item, unit_price_pence))

    # -- why a row says what it says (see row_history): steps from the view, the raw event from the log ---------
    def row_history(self, customer_id: str, item: str | None = None,
                    unit_price_pence: int | None = None) -> RowHistory:
        return self._reading(lambda: self.read_model.row_history(customer_id, item, unit_price_pence))

    def order_history(self, order_id: uuid.UUID | str) -> OrderHistory | None:
        return self._reading(lambda: self.read_model.order_history(order_id))

    def raw_event(self, partition: int, offset: int, timeout: float = 15.0) -> RawEvent:
        """The record at (partition, offset) of the topic, read from the log. LogReadError (one line) if the
        log holds none there or the cluster cannot be reached within `timeout` seconds."""
        try:
            [record] = read_records_blocking(self._client_kwargs, self.topic, [(partition, offset)], timeout)
        except (KafkaError, TimeoutError) as exc:
            servers = self._client_kwargs.get("bootstrap_servers")
            raise LogReadError(f"the Kafka cluster at {servers} cannot be reached ({type(exc).__name__})") from exc
        return RawEvent(record)

    def ignored(self, limit: int = 100) -> list[IgnoredRow]:
        return self._reading(lambda: self.read_model.ignored(limit))

    def value_totals(self, customer: str | None = None) -> dict[tuple[str, Band], int]:
        return self._reading(lambda: self.read_model.value_totals(customer))

    def customers(self) -> list[str]:
        return self._reading(self.read_model.customers)

    # -- the chart of the day (see day_values) ------------------------------------------------------------------
    def day_values(self) -> DayValues:
        return self._reading(self.read_model.day_values)

    def hour_values(self, day: date) -> DayValues:
        return self._reading(lambda: self.read_model.hour_values(day))

    def last_order_day(self) -> date | None:
        return self._reading(self.read_model.last_order_day)

    def quarantined(self, limit: int = 100) -> list[QuarantinedRow]:
        return self._reading(lambda: self.read_model.quarantined(limit))

    def lag(self, *, fresh: bool = True, timeout: float = 5.0) -> Lag:
        """End offsets minus stored next offsets. fresh=False uses the projector's latest fetch responses
        (no broker round trip; for frequent status updates) when it has them for every partition."""
        runner = self._runner
        if not fresh and runner is not None:
            highwaters = runner.offsets.highwaters()
            stored = runner.offsets.stored()
            if highwaters and set(stored) <= set(highwaters):
                return compute_lag(highwaters, stored)
        return compute_lag(self.end_offsets(timeout), self.stored_offsets())

    def summary(self, *, fresh: bool = True, timeout: float = 5.0) -> Summary:
        """Totals per band, events applied, quarantined count, and lag (None if the broker cannot say)."""
        try:
            ends: dict[int, int] | None = self.end_offsets(timeout) if fresh else None
        except Exception as exc:  # noqa: BLE001 - totals are still worth showing without the lag
            log.warning("lag unknown: %s", exc)
            ends = None
        if ends is None and not fresh and self._runner is not None:
            ends = self._runner.offsets.highwaters() or None
        return self._reading(lambda: self.read_model.summary(end_offsets=ends, topic=self.topic))

    # -- the event log (support) --------------------------------------------------------------------------------
    def event_log(self) -> EventLog:
        """A browser of the topic with this service's Kafka settings, judging records against its view."""
        return EventLog(self._client_kwargs, self.topic, ViewVerdicts(self.read_model, self.topic, self._reading))

    # -- the view as of a moment (as_of.py) ---------------------------------------------------------------------
    def as_of(self, moment: datetime, on_progress: Callable[[int, int], None] | None = None) -> AsOfJob:
        """A job (not started) building the view as it stood at `moment` (aware) in a temporary file beside
        this view, from the same log; the live view keeps running meanwhile."""
        return AsOfJob(self._client_kwargs, self.topic, self.db_path.parent, moment, on_progress=on_progress)
