"""The projector thread: its own asyncio loop, an aiokafka consumer, and the only writer of one read model.

The consumer has no group: it assigns itself every partition of the topic (new ones are picked up from
metadata refreshes) and seeks to the offsets stored in SQLite, or to the beginning. Each `getmany` batch
is applied in one transaction; then waiters are woken and `on_change` is called (in this thread).
Any failure (broker, database) is logged, and the consumer and database are reopened after a back-off;
but a projector given `on_damage` stops at once when its file is damaged or deleted (view_health) and
says so, once, for its service to move the file aside and rebuild it from the log.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from desktop_app.kafka_errors import explain_unreachable
from desktop_app.query.log_end import plain_event_loop, topic_end_offsets
from desktop_app.query.projector import BatchOutcome, Projector, ViewKey
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.tracking import OffsetTracker, offsets_in_file, offsets_of_engine
from desktop_app.query.view_health import STORE_ERRORS, FileIdentity, ViewDamaged, damage_of, reported_damage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ViewChange:
    """What one committed batch changed: the (customer_id, band) keys to re-read, and the stored offsets.

    `reset` means the view may have changed anywhere (emptied for a rebuild, or moved on by another
    process's projector): re-read everything.
    """

    keys: frozenset[ViewKey]
    offsets: Mapping[int, int]  # partition -> next offset, every partition stored so far
    applied: int = 0
    quarantined: int = 0
    reset: bool = False


ChangeListener = Callable[[ViewChange], None]
DamageListener = Callable[[str], None]  # called once with why the file is damaged; projecting has stopped


@dataclass(frozen=True, slots=True)
class ProjectorOptions:
    fetch_max_wait_ms: int = 20  # how long the broker holds an empty fetch: the floor of visibility latency
    # records per batch (per transaction), at most. While the projector is behind (a getmany came back full),
    # getmany results are gathered up to this: each commit rewrites every page its random-key inserts touched.
    # Not more: applying a batch holds about 3.5 KB per record (50,000 would add some 140 MB at the peak)
    max_records: int = 20_000
    fetch_records: int = 10_000  # records per getmany
    poll_timeout_ms: int = 500  # longest getmany wait, so partition changes are noticed
    metadata_interval_s: float = 3.0  # how often partitions added to the topic are looked for
    busy_timeout_ms: int = 5000  # SQLite: how long a write waits for a lock before it is retried later
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    # How long after start a broker that cannot be reached yet is expected (our own, still starting): until
    # the projector first reaches it, such failures are logged at INFO as waiting and retried at retry_initial_s.
    broker_start_grace_s: float = 0.0
    consumer_overrides: dict[str, Any] = field(default_factory=dict)
    # "process": project in a child process (process_runner.py), so a burst never competes with the
    # caller's threads (the GUI) for the interpreter lock; "thread": in a thread of this process.
    isolation: Literal["thread", "process"] = "thread"


async def fetch_batch(consumer: AIOKafkaConsumer, options: ProjectorOptions) -> list[Any]:
    """The next batch to apply: one getmany, and while the log holds more than was read (a backlog: catching up
    or rebuilding) more of them, up to `max_records`. Live, one getmany is all: no added latency."""
    per_getmany = min(options.fetch_records, options.max_records)
    batch = await consumer.getmany(timeout_ms=options.poll_timeout_ms, max_records=per_getmany)
    records = [record for partition_records in batch.values() for record in partition_records]
    while len(records) < options.max_records and _behind(consumer, batch):
        wanted = min(per_getmany, options.max_records - len(records))
        batch = await consumer.getmany(timeout_ms=options.fetch_max_wait_ms, max_records=wanted)
        if not batch:
            break
        records += [record for partition_records in batch.values() for record in partition_records]
    return records


def _behind(consumer: AIOKafkaConsumer, batch: Mapping[TopicPartition, list[Any]]) -> bool:
    """Whether a partition of this getmany has records beyond it (its high-water mark as last fetched)."""
    for tp, partition_records in batch.items():
        highwater = consumer.highwater(tp)
        if partition_records and highwater is not None and partition_records[-1].offset + 1 < highwater:
            return True
    return False


class BackgroundProjector:
    """What every projector is told (file, topic, listener) and what it has stored and seen, for other
    threads to read and wait on. ProjectorThread runs it here; process_runner.ProjectorProcess in a child."""

    def __init__(
        self,
        db_path: Path,
        client_kwargs: Mapping[str, Any],
        topic: str,
        *,
        on_change: ChangeListener | None = None,
        options: ProjectorOptions | None = None,
        role: str = "projector",
        on_damage: DamageListener | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.topic = topic
        self.role = role  # names the thread and the log lines: "projector", or "shadow" for a rebuild
        self.options = options or ProjectorOptions()
        self._client_kwargs = dict(client_kwargs)
        self._on_change = on_change
        self._on_damage = on_damage
        self.damage: str | None = None  # why the file is damaged, once found: projecting then stops
        self.offsets = OffsetTracker(alive=lambda: self.running)  # stored and seen: read and waited on here
        self.batches = 0
        self.batches_since_start = 0  # batches since the consumer was last (re)opened
        self.error_count = 0
        self.last_error: str | None = None  # the latest failure, until the projector works again

    def start(self) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 15.0) -> None:
        """Stop projecting; a batch being applied is finished (or rolled back) first."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        raise NotImplementedError

    def end_offsets(self, timeout: float = 5.0) -> dict[int, int] | None:
        """End offsets asked of the broker now through this projector's consumer; None if it cannot."""
        raise NotImplementedError

    def _offsets_from_file(self) -> None:
        """Known at once, not only once the projector has opened the file: empty for a new or damaged file
        (the projector then reads them itself, or finds the damage)."""
        try:
            stored = offsets_in_file(self.db_path, self.topic, busy_timeout_ms=self.options.busy_timeout_ms)
        except STORE_ERRORS:
            stored = {}
        self.offsets.reset(stored)


class ProjectorThread(BackgroundProjector):
    """Projects `topic` into the SQLite file `db_path` in a background thread until stopped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # BackgroundProjector's arguments
        super().__init__(*args, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._opened: FileIdentity | None = None  # the watched file as opened (see on_damage)
        self._reached_broker = False  # the consumer has once read the topic's end offsets

    # -- life cycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("projector already started")
        self._offsets_from_file()
        self._thread = threading.Thread(target=self._thread_main, name=f"{self.role}:{self.topic}", daemon=True)
        self._thread.start()
        self._started.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop projecting; a batch being applied is finished (or rolled back) first."""
        thread, loop, task = self._thread, self._loop, self._task
        if thread is None:
            return
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if thread is threading.current_thread():  # stop() from a listener: the thread ends after it returns
            return
        thread.join(timeout)
        if thread.is_alive():
            log.error("projector thread did not stop within %.0fs", timeout)
        self.offsets.wake()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _thread_main(self) -> None:
        loop = plain_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._task = loop.create_task(self._supervise())
            self._started.set()
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._started.set()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _supervise(self) -> None:
        delay = self.options.retry_initial_s
        started, said_waiting = time.monotonic(), False
        while True:
            try:
                await self._project()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - nothing may end the projector but stop() or damage
                if self._stopped_by_damage(exc):
                    return
                self.error_count += 1
                if isinstance(exc, KafkaConnectionError):
                    self.last_error = f"cannot reach the broker: {await explain_unreachable(self._client_kwargs)}"
                else:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                if (isinstance(exc, KafkaError) and not self._reached_broker
                        and time.monotonic() - started < self.options.broker_start_grace_s):
                    log.log(logging.DEBUG if said_waiting else logging.INFO,
                            "%s of %s: waiting for Kafka to start (%s)", self.role, self.topic, self.last_error)
                    said_waiting = True
                    await asyncio.sleep(self.options.retry_initial_s)
                    continue
                log.warning("%s of %s failed (%s); retrying in %.1fs", self.role, self.topic, self.last_error, delay,
                            exc_info=log.isEnabledFor(logging.DEBUG))
                if self.batches_since_start:
                    delay = self.options.retry_initial_s
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.options.retry_max_s)

    def _stopped_by_damage(self, exc: Exception) -> bool:
        """If `exc` shows the file damaged (and a service heals it): say so once, stop projecting; True."""
        if self._on_damage is None:
            return False
        reason = exc.reason if isinstance(exc, ViewDamaged) else damage_of(exc, self.db_path, self._opened)
        if reason is None:
            return False
        self.damage = reason
        self.error_count += 1
        self.last_error = f"the read model {self.db_path} is damaged: {reason}"
        log.error("%s of %s stopped: %s", self.role, self.topic, self.last_error)
        try:
            self._on_damage(reason)
        except Exception:  # noqa: BLE001 - the projector has stopped either way
            log.exception("the damage listener failed")
        return True

    # -- the projection loop --------------------------------------------------------------------------
    async def _project(self) -> None:
        self.batches_since_start = 0
        watched = self._on_damage is not None
        self._opened = FileIdentity.of(self.db_path) if watched else None
        if watched and self._opened is None:
            raise ViewDamaged("the file is missing")
        # a watched file is never created here: a deleted one must be noticed, not silently started afresh
        engine = open_engine(self.db_path, writer=True, busy_timeout_ms=self.options.busy_timeout_ms,
                             create=not watched)
        try:
            ensure_schema(engine)
            projector = Projector(engine, self.topic)
            self.offsets.reset(offsets_of_engine(engine, self.topic))
            consumer = AIOKafkaConsumer(
                **self._client_kwargs,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=self.options.fetch_max_wait_ms,
                metadata_max_age_ms=int(self.options.metadata_interval_s * 1000),
                **self.options.consumer_overrides,
            )
            try:
                await consumer.start()
                self._consumer = consumer
                await self._consume(consumer, projector)
            finally:
                self._consumer = None
                try:
                    await consumer.stop()
                except Exception:  # noqa: BLE001 - closing a broken consumer may fail too
                    log.debug("closing the consumer failed", exc_info=True)
        finally:
            engine.dispose()

    async def _consume(self, consumer: AIOKafkaConsumer, projector: Projector) -> None:
        # Also makes the client track the topic, so metadata refreshes reveal partitions added later.
        # A missing topic raises KafkaTimeoutError here: retried like any other failure.
        ends = await topic_end_offsets(consumer, self.topic)
        self._reached_broker = True
        self.offsets.saw_highwaters(ends)
        assigned: frozenset[int] = frozenset()
        while True:
            partitions = frozenset(consumer.partitions_for_topic(self.topic) or ())
            if partitions and partitions != assigned:
                await self._assign(consumer, projector, partitions)
                assigned = partitions
            records = await fetch_batch(consumer, self.options)
            self._note_highwaters(consumer, assigned)
            if self._opened is not None:
                if FileIdentity.of(self.db_path) != self._opened:
                    raise ViewDamaged("the file was deleted or replaced")
                reported = reported_damage(self.db_path)  # by a reader's quick_check (service.py)
                if reported is not None:
                    raise ViewDamaged(reported)
            self.last_error = None
            if records:
                self._committed(projector.apply(records))

    async def _assign(self, consumer: AIOKafkaConsumer, projector: Projector, partitions: frozenset[int]) -> None:
        """(Re)assign every partition and seek each to its stored next offset, or to the beginning."""
        stored = offsets_of_engine(projector.engine, self.topic)
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        unread = []
        for tp in tps:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
            else:
                unread.append(tp)
        if unread:
            await consumer.seek_to_beginning(*unread)
        log.info("%s: projecting %s partitions %s into %s from %s", self.role, self.topic, sorted(partitions),
                 self.db_path.name, stored)

    def _note_highwaters(self, consumer: AIOKafkaConsumer, partitions: frozenset[int]) -> None:
        known = {}
        for partition in partitions:
            highwater = consumer.highwater(TopicPartition(self.topic, partition))
            if highwater is not None:
                known[partition] = highwater
        self.offsets.saw_highwaters(known)

    def _committed(self, outcome: BatchOutcome) -> None:
        offsets = self.offsets.advance(outcome.next_offsets)
        self.batches += 1
        self.batches_since_start += 1
        if self._on_change is not None:
            try:
                self._on_change(ViewChange(outcome.changed_keys, offsets, outcome.applied, outcome.quarantined))
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the projection
                log.exception("a view-change listener failed")

    # -- what other threads may ask -----------------------------------------------------------------------
    def end_offsets(self, timeout: float = 5.0) -> dict[int, int] | None:
        """End offsets asked of the broker now through this projector's consumer; None if it cannot."""
        loop = self._loop
        if self._consumer is None or loop is None or threading.current_thread() is self._thread:
            return None
        future = asyncio.run_coroutine_threadsafe(self._read_end_offsets(), loop)
        try:
            return future.result(timeout)
        except Exception as exc:  # noqa: BLE001 - the caller falls back to another way
            future.cancel()
            log.debug("end offsets through the projector failed: %r", exc)
            return None

    async def _read_end_offsets(self) -> dict[int, int]:
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("projector consumer not running")
        return await topic_end_offsets(consumer, self.topic)
