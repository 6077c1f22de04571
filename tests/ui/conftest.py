"""UI fixtures: a qasync loop inside pytest-qt, and a real desk (services + window) on the test broker."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import QSettings

from desktop_app.bootstrap import DeskRuntime
from desktop_app.ui.app import APPLICATION, ORGANISATION
from desktop_app.ui.main_window import MainWindow

T = TypeVar("T")


@pytest.fixture(scope="session")
def _session_qasync_loop(qapp) -> Iterator[qasync.QEventLoop]:
    loop = qasync.QEventLoop(qapp, already_running=True)  # pytest-qt runs Qt's loop; qasync rides on it
    asyncio.events._set_running_loop(None)  # marked running only inside UI tests (see qasync_loop)
    yield loop
    loop.stop()
    loop.close()  # joins the loop's executor threads


@pytest.fixture
def qasync_loop(_session_qasync_loop) -> Iterator[qasync.QEventLoop]:
    """The qasync loop, current and running for this test only; other tests may use asyncio.run."""
    asyncio.set_event_loop(_session_qasync_loop)
    asyncio.events._set_running_loop(_session_qasync_loop)
    yield _session_qasync_loop
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def run_async(qtbot, qasync_loop):
    """Run a coroutine on the GUI thread's qasync loop while Qt keeps processing events."""

    def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        task = qasync_loop.create_task(coro)
        qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        return task.result()

    return run


@pytest.fixture
def isolated_qsettings(qapp, tmp_path):
    """Window state goes to a temp INI file, never to the user's real settings."""
    qapp.setOrganizationName(ORGANISATION)
    qapp.setApplicationName(APPLICATION)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    yield tmp_path / "qsettings"
    assert QSettings().fileName().startswith(str(tmp_path))


@pytest.fixture
def desk(topic_ready, qtbot, run_async, isolated_qsettings) -> Iterator[MainWindow]:
    runtime = DeskRuntime(topic_ready)
    run_async(runtime.start())
    window = MainWindow(runtime)
    qtbot.addWidget(window)
    window.start()
    window.show()
    qtbot.waitUntil(lambda: runtime.connection is not None, timeout=30_000)
    try:
        yield window
    finally:
        window.close()
        run_async(runtime.stop())
