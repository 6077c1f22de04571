"""The relay: an asyncio task that publishes the outbox to Kafka, in order, with the idempotent producer.

How an event travels
    Each round takes the oldest pending events (submission order; the rows this process accepts are handed
    over at commit, `pending_rows`), notes them as attempted, sends them all (in per-partition batches, key =
    customer id: `record_batches`), each to the topic it was accepted for (recorded in the outbox, so a later
    process configured with another topic still sends it where the clerk was told it would go), and records
    each acknowledged (partition, offset) in one outbox transaction, with the next round's first attempt
    when it has those rows already (one transaction per round). The next round starts only after that, so a
    later round never overtakes an earlier one. Within a round, events of one customer share a
    partition, and the idempotent producer delivers a partition's batches in order, retrying
    transient errors without duplicates or reordering. If a round fails, the acknowledged events are
    recorded, the producer is closed (its sequence numbers may have a gap) and, after a capped
    backoff, the next producer starts again from the first unacknowledged event. While the broker
    is unreachable the events simply wait in the outbox, which survives restarts.

Topics
    This process's own topic is provisioned before use by whoever starts the desk (bootstrap). A row
    for another topic (accepted while the desk was configured differently) has that topic provisioned
    the first time a producer session meets it, through `provision_topic`; until that succeeds the
    round fails and is retried like any other, so no later event overtakes it.

Exactly-once, honestly
    Kafka gives us at-least-once here, not exactly-once. The idempotent producer removes duplicates
    only within one producer session. If the app dies after the broker acknowledged an event but
    before the outbox recorded it, the next relay sends that event again. Mitigations:
      * the event_id is fixed when the command is accepted and stored in the outbox, so a re-sent
        event is byte-for-byte the same event; the query side applies each event_id once (it keeps
        a table of applied event ids). This is the guarantee we rely on.
      * each time the relay (re)connects, before sending, it looks in the log for events it may
        already have sent (`_recover_from_log`): for pending events that were attempted, it reads
        each partition from shortly before the first attempt (by record timestamp) to the current
        end and records the ones it finds as published. This is an optimisation with a budget
        (records and seconds); if the log cannot be searched in budget, or the topic stamps records
        with a broker clock far behind ours, the events are re-sent and the query side dedupes.
    Duplicates can also appear when two processes relay the same outbox; a file lock next to the
    database makes one process the relay and the others wait on standby.

Ordering caveat
    While the broker is merely unreachable, aiokafka's idempotent producer retries a partition's
    batches in order, forever. It does fail a batch that waited longer than request_timeout_ms
    for an unknown partition leader; in principle a later batch of that partition could then
    still be delivered. The relay detects an event acknowledged after an earlier event of the same
    customer failed in the same round, and logs it as an error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import filelock
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from desktop_app import contracts
from desktop_app.command.outbox import Acknowledgement, Outbox, PendingEvent
from desktop_app.command.pending_rows import PendingRows
from desktop_app.command.record_batches import OutgoingRecord, RecordBatcher
from desktop_app.kafka_errors import explain_unreachable
from desktop_app.kafka_internals import abandon_unsent_batches, refresh_metadata

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RelayOptions:
    batch_size: int = 500
    idle_poll_s: float = 0.25  # also picks up events accepted by other processes
    standby_poll_s: float = 1.0  # how often a standby relay tries to take the lock
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    stall_after_s: float = 3.0  # acks slower than this: report the broker as not connected
    recover_from_log: bool = True
    recover_slack_s: float = 120.0  # read the log from this long before the first attempt
    recover_max_records: int = 200_000
    recover_timeout_s: float = 15.0
    health_every_s: float = 5.0  # idle relay: how often to check that the broker answers


class _Backoff:
    def __init__(self, initial: float, cap: float) -> None:
        self._initial, self._cap, self._next = initial, cap, initial

    def reset(self) -> None:
        self._next = self._initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._cap, self._next * 2)
        return delay * random.uniform(0.8, 1.0)


def _describe(exc: BaseException) -> str:
    name, text = type(exc).__name__, str(exc).strip()
    if not text or text == name:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


class Relay:
    """Publishes the outbox. `connected` and `last_error` report its health; `active` says whether this
    process holds the relay lock (another Order Desk process may be the relay)."""

    def __init__(
        self,
        outbox: Outbox,
        client_kwargs: dict[str, Any],
        *,
        lock_path: Path,
        options: RelayOptions | None = None,
        on_status: Callable[[], None] | None = None,
        provision_topic: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        """`provision_topic(name)` creates a topic other than the outbox's own if it is missing (see
        "Topics" above); without it such a topic must exist already."""
        self._outbox = outbox
        self._pending = PendingRows()  # the rows this process accepted, handed over at commit
        outbox.hand_off_to(self._pending.handed)
        self._noted: list[PendingEvent] | None = None  # the next round's rows, noted as attempted already
        self._client_kwargs = dict(client_kwargs)
        self._provision_topic = provision_topic
        self._provisioned = {outbox.topic}
        self._options = options or RelayOptions()
        self._lock = filelock.FileLock(str(lock_path), thread_local=False)
        self._holds_lock = False
        self._producer: AIOKafkaProducer | None = None
        self._batcher: RecordBatcher | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Event()
        self._last_contact = 0.0
        self.connected = False
        self.last_error: str | None = None
        self._on_status = on_status

    @property
    def active(self) -> bool:
        return self._holds_lock

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-relay")

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Publish what is pending for up to `flush_timeout` seconds, then stop. Idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wakeup.set()
        done, _ = await asyncio.wait({task}, timeout=flush_timeout)
        if not done:
            task.cancel()
            await asyncio.wait({task})
        if not task.cancelled() and task.exception() is not None:
            log.error("the relay ended with an error", exc_info=task.exception())

    def wake(self) -> None:
        """New events were accepted: look at the outbox now."""
        self._wakeup.set()

    async def wait_progress(self, timeout: float) -> None:
        """Return when a round recorded acknowledgements, or after `timeout` seconds."""
        event = self._progress
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    # -- the loop ------------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = _Backoff(self._options.backoff_initial_s, self._options.backoff_max_s)
        try:
            while True:
                try:
                    outcome = await self._step()
                except Exception as exc:  # the relay must outlive any failure: report, back off, retry
                    log.warning("relay round failed, will retry: %s", _describe(exc))
                    self._forget_handed()  # its unacknowledged rows come first again: read the outbox
                    self._set_status(False, f"publishing failed: {_describe(exc)}")
                    await self._close_producer()
                    outcome = "failed"
                if outcome == "published":
                    backoff.reset()
                    continue
                if self._stopping:
                    return
                if outcome == "standby":
                    await self._pause(self._options.standby_poll_s)
                elif outcome == "idle":
                    await self._pause(self._options.idle_poll_s)
                    await self._probe()
                else:
                    await self._pause(backoff.next_delay())
        finally:
            await self._close_producer()
            self._release_lock()

    async def _step(self) -> Literal["standby", "failed", "idle", "published"]:
        """One turn of the loop: "standby", "failed" (could not connect), "idle" or "published"."""
        if not self._holds_lock and not self._take_lock():
            return "standby"
        if self._producer is None:
            try:
                await self._start_producer()
            except KafkaConnectionError:
                self._set_status(False, f"cannot reach the broker: {await explain_unreachable(self._client_kwargs)}")
                return "failed"
            except Exception as exc:
                self._set_status(False, f"cannot reach the broker: {_describe(exc)}")
                return "failed"
            self._forget_handed()  # a new session starts from the outbox (and what recovery finds there)
            if self._options.recover_from_log:
                await self._recover_from_log()
        limit = self._options.batch_size
        noted, self._noted = self._noted, None
        batch = noted or self._pending.take(limit)
        if batch is None:
            batch, last_seq = await asyncio.to_thread(self._outbox.pending_and_last_seq, limit)
            self._pending.read(batch, last_seq, limit)
        if not batch:
            return "idle"
        await self._publish(batch, attempted=noted is not None)
        return "published"

    def _forget_handed(self) -> None:
        self._pending.forget()
        self._noted = None

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake early for new events or stop()."""
        try:
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        except TimeoutError:
            pass
        self._wakeup.clear()

    def _take_lock(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        self._holds_lock = True
        return True

    def _release_lock(self) -> None:
        if self._holds_lock:
            self._lock.release()
            self._holds_lock = False

    def _set_status(self, connected: bool, error: str | None) -> None:
        changed = (connected, error) != (self.connected, self.last_error)
        self.connected, self.last_error = connected, error
        if changed and self._on_status is not None:
            self._on_status()

    def _signal_progress(self) -> None:
        event, self._progress = self._progress, asyncio.Event()
        event.set()

    # -- producer ------------------------------------------------------------------------------
    async def _start_producer(self) -> None:
        producer = AIOKafkaProducer(**self._client_kwargs, enable_idempotence=True)
        try:
            await producer.start()
        except BaseException:
            await self._stop_quietly(producer)
            raise
        self._producer = producer
        self._batcher = RecordBatcher(producer)
        self._last_contact = time.monotonic()
        self._set_status(True, None)

    async def _close_producer(self) -> None:
        self._provisioned = {self._outbox.topic}  # a new session checks other topics again
        producer, self._producer, self._batcher = self._producer, None, None
        if producer is not None:
            await self._stop_quietly(producer)

    @staticmethod
    async def _stop_quietly(producer: AIOKafkaProducer, timeout: float = 1.0) -> None:
        """Stop a producer without waiting for batches an unreachable broker will never acknowledge."""
        stopping = asyncio.ensure_future(producer.stop())
        done, _ = await asyncio.wait({stopping}, timeout=timeout)
        if not done:
            # The idempotent producer retries unacknowledged batches forever and stop() waits for
            # them. Abandon them (they are still pending in the outbox), which lets stop() close the
            # connections.
            abandon_unsent_batches(producer)
            done, _ = await asyncio.wait({stopping}, timeout=timeout)
        if not done:
            stopping.cancel()
            log.warning("the Kafka producer did not stop in time")
        elif not stopping.cancelled() and stopping.exception() is not None:
            log.debug("producer stopped with %s", _describe(stopping.exception()))  # type: ignore[arg-type]

    async def _probe(self) -> None:
        """While idle, check the broker now and then so `connected` stays true to life."""
        producer = self._producer
        if producer is None or time.monotonic() - self._last_contact < self._options.health_every_s:
            return
        try:
            reachable = await asyncio.wait_for(refresh_metadata(producer), 10)
        except (TimeoutError, Exception):
            reachable = False
        self._last_contact = time.monotonic()
        if reachable:
            self._set_status(True, None)
        else:
            self._set_status(False, "the broker does not answer")

    # -- one round -----------------------------------------------------------------------------
    async def _ensure_topics(self, batch: list[PendingEvent]) -> None:
        for topic in sorted({event.topic for event in batch} - self._provisioned):
            if self._provision_topic is not None:
                await self._provision_topic(topic)
                log.info("provisioned topic %r for events accepted for it earlier", topic)
            self._provisioned.add(topic)

    async def _publish(self, batch: list[PendingEvent], attempted: bool = False) -> None:
        """`attempted`: the batch's first attempt is noted already (with the previous round's acks)."""
        producer = self._producer
        assert producer is not None
        await self._ensure_topics(batch)
        first_attempts = [] if attempted else [event.seq for event in batch if event.attempted_at is None]
        if first_attempts:
            await asyncio.to_thread(self._outbox.mark_attempted, first_attempts)

        assert self._batcher is not None
        handed = await self._batcher.hand_over([
            OutgoingRecord(pending.topic, contracts.event_key(pending.customer_id), pending.event_json,
                           pending.headers)  # the stored JSON as it is, with its type's headers
            for pending in batch
        ])
        await self._await_acks(handed.futures)
        outcomes = handed.outcomes()

        acks: list[Acknowledgement] = []
        failed_customers: set[tuple[str, str]] = set()  # (topic, customer): one partition's order
        first_error: BaseException | None = None
        for pending, outcome in zip(batch, outcomes, strict=True):
            if outcome is None:  # not handed over: stays pending
                continue
            if isinstance(outcome, BaseException):
                first_error = first_error or outcome
                failed_customers.add((pending.topic, pending.customer_id))
                continue
            if (pending.topic, pending.customer_id) in failed_customers:
                log.error(
                    "event %s of customer %r was acknowledged after an earlier event of that customer"
                    " failed; their order in the log is broken",
                    pending.event_id,
                    pending.customer_id,
                )
            offset = outcome.offset if outcome.offset >= 0 else None  # -1: duplicate of a retried send
            acks.append(Acknowledgement(pending.seq, outcome.partition, offset))
        error = first_error or handed.error
        upcoming = None if error is not None else self._pending.take(self._options.batch_size)
        if acks or upcoming:  # one transaction: these acks, and the next round's first attempt
            await asyncio.to_thread(self._outbox.mark_published, acks, [event.seq for event in upcoming or ()])
            self._noted = upcoming
        if acks:
            self._signal_progress()
            self._last_contact = time.monotonic()
        if error is not None:
            raise error if isinstance(error, Exception) else RuntimeError(_describe(error))
        self._set_status(True, None)

    async def _await_acks(self, futures: list[asyncio.Future[Any]]) -> None:
        waiting = set(futures)
        while waiting:
            done, waiting = await asyncio.wait(waiting, timeout=self._options.stall_after_s)
            if waiting and not done:
                self._set_status(False, f"the broker has not acknowledged {len(waiting)} batches of events yet")

    # -- recovery ------------------------------------------------------------------------------
    async def _recover_from_log(self) -> None:
        """Record as published the attempted events the log already holds (see module docstring)."""
        try:
            pending = await asyncio.to_thread(self._outbox.pending, self._options.recover_max_records)
            attempted = [event for event in pending if event.attempted_at is not None]
            if not attempted:
                return
            found = await asyncio.wait_for(self._find_in_log(attempted), self._options.recover_timeout_s)
        except Exception as exc:  # includes TimeoutError: then we simply re-send
            log.warning("could not search the log for already-sent events: %s", _describe(exc))
            return
        if found:
            await asyncio.to_thread(self._outbox.mark_published, found)
            self._signal_progress()
            log.info("%d events were already in the log; recorded, not re-sent", len(found))

    async def _find_in_log(self, attempted: list[PendingEvent]) -> list[Acknowledgement]:
        wanted = {event.event_id: event.seq for event in attempted}
        since_ms = int((min(e.attempted_at or 0.0 for e in attempted) - self._options.recover_slack_s) * 1000)
        consumer = AIOKafkaConsumer(
            **self._client_kwargs, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await consumer.start()
        try:
            assert self._producer is not None
            existing = await consumer.topics()  # a topic that does not exist yet holds nothing of ours
            tps = [
                TopicPartition(topic, partition)
                for topic in sorted({event.topic for event in attempted} & existing)
                for partition in sorted(await self._producer.partitions_for(topic))
            ]
            starts = await consumer.offsets_for_times({tp: max(since_ms, 0) for tp in tps})
            ends = await consumer.end_offsets(tps)
            remaining = {tp: ends[tp] for tp in tps if starts.get(tp) is not None}
            budget = sum(ends[tp] - starts[tp].offset for tp in remaining)
            if budget > self._options.recover_max_records:
                raise RuntimeError(f"{budget} records to search, more than the budget")
            consumer.assign(list(remaining))
            for tp in remaining:
                consumer.seek(tp, starts[tp].offset)
            found: list[Acknowledgement] = []
            while remaining and wanted:
                for tp, records in (await consumer.getmany(*remaining, timeout_ms=200)).items():
                    for record in records:
                        if record.offset >= remaining.get(tp, 0):
                            continue
                        seq = wanted.pop(self._event_id_of(record), None)
                        if seq is not None:
                            found.append(Acknowledgement(seq, record.partition, record.offset))
                for tp in list(remaining):
                    if await consumer.position(tp) >= remaining[tp]:
                        del remaining[tp]
            return found
        finally:
            await consumer.stop()

    @staticmethod
    def _event_id_of(record: Any) -> Any:
        try:
            return contracts.decode(record.value, record.headers).event_id
        except contracts.MalformedRecord:
            return None
