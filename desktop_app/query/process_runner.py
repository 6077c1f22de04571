"""The projector in a child process, mirrored in this one.

Projecting is CPU-bound Python: in the GUI's process it takes the interpreter lock from the window during a
burst, a catch-up or a rebuild. `ProjectorProcess` runs the same `ProjectorThread` in a spawned child and
offers the same API here: every committed batch comes back over a pipe as a `ViewChange` (listeners are
called on this process's pipe-reader thread), with the stored offsets, high-water marks and last error.
The child's log lines are re-logged here. The child stops (finishing its batch) when this process ends,
since the pipe then closes, and is restarted after a back-off should it die by itself. The child's own side
is child.py; the client settings cross the pipe as portable_kwargs.py makes them.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from desktop_app.query.child_messages import (
    Answer,
    AskEndOffsets,
    BatchCommitted,
    ChildMessage,
    Damaged,
    LogLine,
    ParentCommand,
    ProjectorState,
    StateReport,
    Stop,
    Stopped,
)
from desktop_app.query.child import child_main
from desktop_app.query.portable_kwargs import portable_client_kwargs
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.runner import BackgroundProjector, ProjectorThread

log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0  # doubled after each death in a row, up to RESTART_DELAY_MAX_S
RESTART_DELAY_MAX_S = 30.0
STOP_GRACE_S = 15.0

_SPAWN = multiprocessing.get_context("spawn")  # never fork a process that runs Qt and asyncio threads


class ProjectorProcess(BackgroundProjector):
    """Projects `topic` into the SQLite file `db_path` in a child process until stopped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # BackgroundProjector's arguments
        super().__init__(*args, **kwargs)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._spawn_lock = threading.Lock()  # a stop() and a restart never cross
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._requests = itertools.count()
        self._answers: dict[int, Any] = {}  # request -> the child's answer, for requests still awaited
        self._answered = threading.Condition()
        self.restarts = 0
        self._batches_before_child = 0  # batches of earlier children: `batches` counts across restarts

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._supervisor is not None:
            raise RuntimeError("projector already started")
        self._offsets_from_file()
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name=f"{self.role}-pipe:{self.topic}",
                                            daemon=True)
        self._supervisor.start()

    def _spawn(self) -> None:
        parent_end, child_end = _SPAWN.Pipe()
        child_options = replace(self.options, isolation="thread")
        process = _SPAWN.Process(
            target=child_main,
            args=(child_end, str(self.db_path), portable_client_kwargs(self._client_kwargs), self.topic,
                  child_options, self.role, logging.getLogger("desktop_app").getEffectiveLevel(), os.getpid(),
                  self._on_damage is not None),
            name=f"order-desk {self.role}", daemon=True,
        )
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end
        log.info("%s of %s runs in child process %d", self.role, self.topic, process.pid)

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """Stop projecting; the child finishes (or rolls back) the batch it is applying, then exits."""
        with self._spawn_lock:
            supervisor, process = self._supervisor, self._process
            if supervisor is None or process is None:
                return
            self._stopping.set()
            self._send(Stop())
        if supervisor is threading.current_thread():  # stop() from a listener: the pipe ends after it returns
            return
        process.join(timeout)
        if process.is_alive():
            log.error("%s process did not stop within %.0fs; killing it", self.role, timeout)
            process.kill()
            process.join(5)
        supervisor.join(timeout)
        self.offsets.wake()
        with self._answered:
            self._answered.notify_all()

    @property
    def running(self) -> bool:
        """True until stopped, also while a child that died is being replaced (as a thread retries)."""
        supervisor = self._supervisor
        return not self._stopping.is_set() and supervisor is not None and supervisor.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _send(self, message: ParentCommand) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            with self._send_lock:
                conn.send(message)
            return True
        except (OSError, ValueError):  # the child is gone: the supervisor restarts it (or we are stopping)
            return False

    # -- the pipe -----------------------------------------------------------------------------------------
    def _supervise(self) -> None:
        delay = RESTART_DELAY_S
        while True:
            conn, process = self._conn, self._process
            assert conn is not None and process is not None
            self._batches_before_child = batches_before = self.batches
            self._pump(conn)
            process.join(5)
            conn.close()
            if self._stopping.is_set():
                return
            if self.batches > batches_before:  # it worked for a while: not a crash loop
                delay = RESTART_DELAY_S
            self.error_count += 1
            self.restarts += 1
            self.last_error = f"the projector process ended unexpectedly (exit code {process.exitcode})"
            log.error("%s; restarting it in %.0fs", self.last_error, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, RESTART_DELAY_MAX_S)
            with self._spawn_lock:
                if self._stopping.is_set():
                    return
                self._spawn()

    def _pump(self, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if not self._handle(message):
                return

    def _handle(self, message: ChildMessage) -> bool:
        """Act on one message of the child; False once it said it stopped."""
        match message:
            case BatchCommitted(change=change, state=state):
                self._on_state(change.offsets, state)
                if self._on_change is not None:
                    try:
                        self._on_change(change)
                    except Exception:  # noqa: BLE001 - a listener's bug must not stop the projection
                        log.exception("a view-change listener failed")
            case StateReport(offsets=offsets, state=state):
                self._on_state(offsets, state)
            case Answer(request=request, value=value):
                with self._answered:
                    if request in self._answers:
                        self._answers[request] = value
                        self._answered.notify_all()
            case LogLine(logger=name, level=level, text=text):
                _relog(name, level, text)
            case Damaged(reason=reason):
                self._on_damaged(reason)
            case Stopped():
                return False
            case _:
                log.error("unknown message from the %s process: %r", self.role, message)
        return True

    def _on_state(self, offsets: Mapping[int, int], state: ProjectorState) -> None:
        self.offsets.advance(offsets)  # a state and a batch message may cross: offsets only move forward
        self.offsets.saw_highwaters(state.highwaters)
        self.batches = self._batches_before_child + state.batches
        self.batches_since_start = state.batches_since_start
        self.error_count, self.last_error = state.error_count + self.restarts, state.last_error

    def _on_damaged(self, reason: str) -> None:
        """The child found its file damaged and stopped projecting (its own log line said so)."""
        self.damage = reason
        self.last_error = f"the read model {self.db_path} is damaged: {reason}"
        if self._on_damage is not None:
            try:
                self._on_damage(reason)
            except Exception:  # noqa: BLE001 - the child has stopped projecting either way
                log.exception("the damage listener failed")

    # -- what other threads may ask -------------------------------------------------------------------------
    def end_offsets(self, timeout: float = 5.0) -> dict[int, int] | None:
        """End offsets asked of the broker now through the child's consumer; None if it cannot."""
        if threading.current_thread() is self._supervisor:
            return None
        request = next(self._requests)
        unanswered = object()
        with self._answered:
            self._answers[request] = unanswered
        try:
            if not self._send(AskEndOffsets(request, timeout)):
                return None
            deadline = time.monotonic() + timeout + 1.0
            with self._answered:
                while self._answers[request] is unanswered:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self.running:
                        return None
                    self._answered.wait(min(remaining, 0.1))
                return self._answers[request]
        finally:
            with self._answered:
                self._answers.pop(request, None)


def projector_class(options: ProjectorOptions) -> type[BackgroundProjector]:
    """The projector `options.isolation` asks for: a thread of this process, or a child process."""
    return ProjectorProcess if options.isolation == "process" else ProjectorThread


def _relog(name: str, level: int, text: str) -> None:
    logger = logging.getLogger(name)
    if logger.isEnabledFor(level):
        logger.log(level, "%s", text)
