"""The projector child process's side: a ProjectorThread whose changes and state go up the pipe, and the
parent's commands (child_messages.py), obeyed as they come down. process_runner.ProjectorProcess is the
parent's side."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
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
from desktop_app.query.portable_kwargs import restored_client_kwargs
from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.runner import BackgroundProjector, ProjectorThread, ViewChange

log = logging.getLogger(__name__)

STATE_EVERY_S = 0.25  # how often the child reports high-water marks and errors while no batch commits


class _PipeLogHandler(logging.Handler):
    def __init__(self, send: Any) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            self._send(LogLine(record.name, record.levelno, text))
        except Exception:  # noqa: BLE001 - logging must never break the projector
            pass


def child_main(conn: Connection, db_path: str, client_kwargs: dict[str, Any], topic: str,
               options: ProjectorOptions, role: str, log_level: int, parent_pid: int,
               watch_damage: bool = False) -> None:
    """The child process: a ProjectorThread whose changes and state go up the pipe; commands come down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the parent's to handle
    send_lock = threading.Lock()

    def send(message: ChildMessage) -> None:
        with send_lock:
            conn.send(message)

    root = logging.getLogger()
    root.handlers[:] = [_PipeLogHandler(send)]
    root.setLevel(log_level)
    runner: ProjectorThread | None = None

    def on_change(change: ViewChange) -> None:
        assert runner is not None
        send(BatchCommitted(change, state_of(runner)))

    def on_damage(reason: str) -> None:
        send(Damaged(reason))

    runner = ProjectorThread(Path(db_path), restored_client_kwargs(client_kwargs), topic, on_change=on_change,
                             options=options, role=role, on_damage=on_damage if watch_damage else None)
    runner.start()
    reported: StateReport | None = None
    try:
        while os.getppid() == parent_pid:  # else the parent died and the pipe's end was not noticed
            if conn.poll(STATE_EVERY_S) and not obey(conn.recv(), runner, send):
                break
            now = StateReport(runner.offsets.stored(), state_of(runner))
            if now != reported:
                send(now)
                reported = now
    except (EOFError, OSError):  # the parent is gone: stop as it would have asked
        pass
    finally:
        runner.stop()
        try:
            send(StateReport(runner.offsets.stored(), state_of(runner)))
            send(Stopped())
        except (OSError, ValueError):
            pass
        conn.close()


def state_of(runner: BackgroundProjector) -> ProjectorState:
    return ProjectorState(runner.offsets.highwaters(), runner.batches, runner.batches_since_start,
                          runner.error_count, runner.last_error)


def obey(command: ParentCommand, runner: BackgroundProjector, send: Callable[[ChildMessage], None]) -> bool:
    """Carry out one command of the parent in the child; False for Stop."""
    match command:
        case Stop():
            return False
        case AskEndOffsets(request=request, timeout=timeout):
            send(Answer(request, runner.end_offsets(timeout)))
        case _:
            log.error("unknown command from the parent process: %r", command)
    return True
