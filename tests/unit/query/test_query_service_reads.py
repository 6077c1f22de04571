"""QueryService's reads without a broker: the totals are still given when the end of the log is unknown."""

from __future__ import annotations

from query_unit_helpers import order

from desktop_app.query.bands import Band
from desktop_app.query.service_reads import ViewReads


class BrokerlessReads(ViewReads):
    """The reads over a real read model, with a broker that cannot be asked for end offsets."""

    def __init__(self, read_model) -> None:
        self.read_model = read_model
        self.topic = "orders-unit"
        self._runner = None

    def end_offsets(self, timeout: float = 10.0) -> dict[int, int]:
        raise ConnectionError("no broker")


def test_a_summary_without_the_end_of_the_log_gives_the_totals_and_no_lag(projector, read_model, records) -> None:
    projector.apply([records.event(order("una", ("Tea", 350, 2)))])

    summary = BrokerlessReads(read_model).summary(fresh=True, timeout=0.1)

    assert (summary.lag, summary.bands[Band.CHEAP].quantity, summary.events_applied) == (None, 2, 1)
