"""The view as it stood at a moment: replay each partition up to that moment into a temporary read model.

`LogReader.offsets_at(moment)` gives, per partition, the first offset whose record timestamp (Kafka's, set
when the desk published the event) is at or after the moment. Every partition is read from its first offset
to there and each batch is applied by the same `Projector` as the live view, into a new file beside it
(`as_of_files`): so the result is exactly the view the live projector had at those offsets. The file gets
the read indexes once the replay is done (nobody reads it before). The live view is not touched.

`AsOfJob` runs the replay on its own thread (a `BackgroundJob`) with progress (done / total records) and
Cancel; its result is an `AsOfView`, a read model pinned to that file: closing it deletes the file. A
cancelled or failed build deletes its file at once; a killed one leaves it for the next start-up
(`as_of_files.remove_leftovers`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop_app.query import as_of_files
from desktop_app.query.background_job import BackgroundJob, ProgressCallback
from desktop_app.query.log_end import plain_event_loop
from desktop_app.query.log_reader import LogReader, LogRecord
from desktop_app.query.partition_replay import ParallelReplay, ReplayEnd
from desktop_app.query.projector import Projector
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.schema import create_read_indexes, ensure_shadow_schema, open_engine
from desktop_app.query.views import ReadModel

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.1  # how often the build looks for a cancel while it waits on the broker


class AsOfCancelled(RuntimeError):
    """The build was cancelled: its file is gone, there is no view."""


class AsOfView(ReadModel):
    """The read model as it stood at `moment` (read-only use). `close()` deletes its file."""

    def __init__(self, path: Path, moment: datetime, offsets: Mapping[int, int], records: int) -> None:
        super().__init__(path, engine=open_engine(path, create=False))
        self.moment = moment
        self.offsets = dict(offsets)  # partition -> the offset the replay stopped at (exclusive)
        self.records = records  # records replayed into it
        self._closed = False

    def close(self) -> None:
        super().close()
        if not self._closed:
            self._closed = True
            kept = as_of_files.remove(self.db_path)
            if kept:
                log.warning("could not delete %s now; the next start-up deletes it", kept[0].name)


class AsOfJob(BackgroundJob):
    """Builds an AsOfView of `topic` at `moment` in `data_dir`, on its own thread: `start()`, then `follow()`
    (blocking) or `progress()` / `finished` / `take_view()` (polling, e.g. from a window)."""

    def __init__(self, client_kwargs: Mapping[str, Any], topic: str, data_dir: Path, moment: datetime, *,
                 on_progress: ProgressCallback | None = None, max_records: int = 10_000,
                 reader: Callable[[], Any] | None = None, parallel: ParallelReplay | None = None) -> None:
        """`reader`: makes the LogReader to read through (unit tests give a fake log; then nothing is replayed
        in parallel). `parallel`: how a big stretch is replayed on every core (default: ProjectorOptions')."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        super().__init__(f"as-of:{topic}")
        self.moment = moment
        self.topic = topic
        self.data_dir = Path(data_dir)
        self._client_kwargs = dict(client_kwargs)
        self._reader = reader or (lambda: LogReader(self._client_kwargs, self.topic, max_records=max_records))
        defaults = ProjectorOptions()
        self._parallel = parallel if parallel is not None or reader is not None else ParallelReplay(
            client_kwargs, topic, processes=defaults.replay_processes, min_records=defaults.parallel_replay_min_records)
        self.watch(on_progress)
        self._view: AsOfView | None = None
        self.path = as_of_files.new_path(self.data_dir)
        self.cancelled = False  # True once a cancel stopped the build (no view, no file)

    # -- control (the rest is BackgroundJob's: join, running, progress) -------------------------------------
    def start(self) -> AsOfJob:
        as_of_files.remove_leftovers(self.data_dir)
        self._launch()
        return self

    def cancel(self) -> None:
        """Stop the build and delete its file (a view already built is the caller's to close). A build waiting
        on the broker stops too: its loop looks for the cancel every CANCEL_POLL_S (_build_until_cancelled)."""
        super().cancel()

    def take_view(self) -> AsOfView:
        """The built view, once finished (the caller closes it); AsOfCancelled, or the build's error, if none."""
        if not self.finished.is_set():
            raise RuntimeError("the view as of the moment is still being built")
        if self.error is not None:
            raise self.error
        if self._view is None:
            raise AsOfCancelled("the view as of the moment was cancelled")
        view, self._view = self._view, None
        return view

    def follow(self, cancel: Callable[[], bool] | None = None, timeout: float | None = None) -> AsOfView:
        """Wait for the view (cancel when `cancel()` is True or `timeout` passes: AsOfCancelled). Anything that
        ends the wait (Ctrl-C in the CLI) cancels the build first, so no file stays behind."""
        try:
            self._follow(cancel=cancel, timeout=timeout)
        except BaseException:  # the build has stopped (see _follow): a view it finished meanwhile goes too
            if self._view is not None:
                self._view.close()
                self._view = None
            raise
        return self.take_view()

    # -- the build -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        with asyncio.Runner(loop_factory=plain_event_loop) as runner:
            view = runner.run(self._build_until_cancelled())
        if view is not None and self._cancel.is_set():  # cancelled as it finished: nobody wants it
            view.close()
            view = None
        self._view = view
        self.cancelled = view is None

    def _failed(self, error: BaseException) -> None:
        as_of_files.remove(self.path)
        log.exception("building the view as of %s failed", self.moment.isoformat())

    async def _build_until_cancelled(self) -> AsOfView | None:
        """The build, stopped at once by a cancel even while it waits on the broker (connecting, say)."""
        build = asyncio.ensure_future(self._build())
        while not build.done():
            if self._cancel.is_set():
                build.cancel()
                break
            await asyncio.wait({build}, timeout=CANCEL_POLL_S)
        try:
            return await build
        except asyncio.CancelledError:
            as_of_files.remove(self.path)
            log.info("the view as of %s was cancelled before it was read", self.moment.isoformat())
            return None

    async def _build(self) -> AsOfView | None:
        started = time.monotonic()
        async with self._reader() as reader:
            bounds = await reader.bounds()
            stops = await reader.offsets_at(self.moment)
            ranges = {p: (bounds[p].first, max(bounds[p].first, stops.get(p, bounds[p].first))) for p in bounds}
            self._start_counting(sum(stop - start for start, stop in ranges.values()))
            in_parallel = await self._replay_in_parallel({p: stop for p, (_, stop) in ranges.items()})
            engine = open_engine(self.path, writer=True)
            try:
                ensure_shadow_schema(engine)
                projector = Projector(engine, self.topic)

                def apply(records: list[LogRecord]) -> None:
                    projector.apply(records)
                    self._set_progress(self._done + len(records))

                completed = in_parallel if in_parallel is not None else await reader.read(
                    ranges, apply, self._cancel.is_set)
                if completed and not self._cancel.is_set():
                    create_read_indexes(engine)
            finally:
                engine.dispose()
        if not completed or self._cancel.is_set():
            as_of_files.remove(self.path)
            log.info("the view as of %s was cancelled at %d of %s records", self.moment.isoformat(), self._done,
                     self._total)
            return None
        stopped_at = {p: stop for p, (_, stop) in ranges.items()}
        log.info("built the view as of %s from %d records in %.1fs (%s)", self.moment.isoformat(), self._done,
                 time.monotonic() - started, self.path.name)
        return AsOfView(self.path, self.moment, stopped_at, self._done)

    async def _replay_in_parallel(self, stops: dict[int, int]) -> bool | None:
        """Replay up to `stops` on every core (partition_replay) when the stretch is big enough: True done,
        False cancelled, None not done (small, or it could not: then the file starts over, in this process)."""
        parallel = self._parallel
        if parallel is None or not parallel.worth_it(stops):
            return None
        running = asyncio.get_running_loop().run_in_executor(None, lambda: parallel.run(
            self.path, stops, progress=self._set_progress, cancelled=self._cancel.is_set))
        try:
            end = await asyncio.shield(running)
        except asyncio.CancelledError:  # the build is cancelled: let the processes stop before the file goes
            self._cancel.set()
            await asyncio.wait({running})
            raise
        except Exception as exc:  # noqa: BLE001 - the one-process replay does the same
            log.warning("the parallel replay failed (%s); replaying in one process", exc)
            end = None
        if end is ReplayEnd.DONE:
            return True
        if end is ReplayEnd.CANCELLED:
            return False
        as_of_files.remove(self.path)
        self._set_progress(0)
        return None
