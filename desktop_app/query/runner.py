"""The projector thread: its own asyncio loop, supervising the walk of every record into one read model.

The walk goes one way: the fetch loop (consumer.py: every partition, from the offsets stored in SQLite)
hands a batch to the projector (projector.py: one transaction), whose committed offsets go to the tracker
(tracking.py: waiters are woken), and then `on_change` is called (in this thread). Any failure (broker,
database) is logged, and the consumer and database are reopened after a back-off; but a projector given
`on_damage` stops at once when its file is damaged or deleted (view_health) and says so, once, for its
engine (engine.py) to move the file aside and rebuild it from the log. End offsets can be asked through its consumer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError, KafkaError

from desktop_app.kafka_errors import explain_unreachable
from desktop_app.query.consumer import TopicFeed, new_consumer, started_consumer
from desktop_app.query.log_end import plain_event_loop
from desktop_app.query.partition_replay import ParallelReplay, ReplayEnd
from desktop_app.query.projector import BatchOutcome, Projector, ViewKey
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.schema import ensure_schema, open_engine
from desktop_app.query.tracking import OffsetTracker, offsets_in_file, offsets_of_engine
from desktop_app.query.view_health import STORE_ERRORS, FileIdentity, ViewDamaged, damage_of, reported_damage

log = logging.getLogger(__name__)

LIVE_ROLE = "projector"  # the live view's projector (a rebuild's is "shadow")
FILL_REPORT_S = 1.0  # how often a parallel fill of a new view tells the readers it grew


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
        role: str = LIVE_ROLE,
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
        self._feed: TopicFeed | None = None  # while the consumer runs: end offsets are asked through it
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
        """If `exc` shows the file damaged (and an engine heals it): say so once, stop projecting; True."""
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

    # -- the walk of a record ----------------------------------------------------------------------------
    def new_consumer(self) -> AIOKafkaConsumer:
        """The consumer of each (re)start; unit tests give a fake one here."""
        return new_consumer(self._client_kwargs, self.options)

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
            async with started_consumer(self.new_consumer()) as consumer:
                self._feed = TopicFeed(consumer, self.topic, self.options,
                                       lambda: offsets_of_engine(engine, self.topic),
                                       label=f"{self.role} into {self.db_path.name}")
                try:
                    await self._follow(self._feed, projector)
                finally:
                    self._feed = None
        finally:
            engine.dispose()

    async def _follow(self, feed: TopicFeed, projector: Projector) -> None:
        """Fetched (consumer) -> applied in one transaction (projector) -> stored (tracking) -> told (listeners)."""
        ends = await feed.log_end()  # a missing topic raises: retried like any failure
        self.offsets.saw_highwaters(ends)
        self._reached_broker = True
        if self.role == LIVE_ROLE and not self.offsets.stored():
            await self._fill_in_parallel(projector.engine, ends)
        while True:
            fetched = await feed.next_batch()
            self.offsets.saw_highwaters(fetched.highwaters)
            self._check_file()
            self.last_error = None
            if fetched.records:
                self._committed(projector.apply(fetched.records))

    async def _fill_in_parallel(self, engine: Any, ends: Mapping[int, int]) -> None:
        """A new view of a big log (a new desk): replay it on every core first (partition_replay), as a rebuild
        does, then follow it from there. Group 0 commits into this file as a projector would, so readers see
        the view grow; whatever stops the replay (a stop, a failure, an event id counted by two groups)
        leaves a valid view up to some offsets, which the loop below carries on from."""
        replay = ParallelReplay(self._client_kwargs, self.topic, processes=self.options.replay_processes,
                                min_records=self.options.parallel_replay_min_records)
        if not replay.worth_it(ends):
            return
        stop = threading.Event()
        filling = asyncio.get_running_loop().run_in_executor(
            None, lambda: replay.run(self.db_path, ends, cancelled=stop.is_set))
        try:
            while not filling.done():
                await asyncio.wait({filling}, timeout=FILL_REPORT_S)
                self._moved_on(offsets_of_engine(engine, self.topic))
        except BaseException:
            # stop() (cancelled), or telling the readers failed: the groups write into this file, so they stop
            # (after their batch) before anything else may write to it
            stop.set()
            await asyncio.wait({filling})
            raise
        try:
            end: ReplayEnd | str = filling.result()
        except Exception as exc:  # noqa: BLE001 - the loop below projects what is left, as it would anyway
            end = f"in a failure ({exc})"
        if end is not ReplayEnd.DONE:
            log.warning("filling the new view in parallel ended %s; projecting the rest in one process",
                        end.value if isinstance(end, ReplayEnd) else end)
        self._moved_on(offsets_of_engine(engine, self.topic))

    def _moved_on(self, stored: Mapping[int, int]) -> None:
        """The file holds more than this projector applied itself (a parallel fill): re-read everything."""
        if stored == self.offsets.stored():
            return
        offsets = self.offsets.advance(stored)
        if self._on_change is not None:
            try:
                self._on_change(ViewChange(frozenset(), offsets, reset=True))
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the projection
                log.exception("a view-change listener failed")

    def _check_file(self) -> None:
        """Raise ViewDamaged if the watched file was deleted, replaced or reported damaged by a reader."""
        if self._opened is None:
            return
        if FileIdentity.of(self.db_path) != self._opened:
            raise ViewDamaged("the file was deleted or replaced")
        reported = reported_damage(self.db_path)  # by a reader's quick_check (healing.py)
        if reported is not None:
            raise ViewDamaged(reported)

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
        if self._feed is None or loop is None or threading.current_thread() is self._thread:
            return None
        future = asyncio.run_coroutine_threadsafe(self._read_end_offsets(), loop)
        try:
            return future.result(timeout)
        except Exception as exc:  # noqa: BLE001 - the caller falls back to another way
            future.cancel()
            log.debug("end offsets through the projector failed: %r", exc)
            return None

    async def _read_end_offsets(self) -> dict[int, int]:
        feed = self._feed
        if feed is None:
            raise RuntimeError("projector consumer not running")
        return await feed.log_end()
