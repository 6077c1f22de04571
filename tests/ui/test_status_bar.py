"""The status bar says why Kafka is not connected, "Lag: unknown" meanwhile, and "starting" while our own
broker starts (issue 11, points 8 and 10)."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow

from desktop_app.bootstrap import DeskRuntime
from desktop_app.settings import Settings
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.status_bar import DeskStatus, DeskStatusBar, one_line

BROKER = "external cluster at 127.0.0.1:9"


def status(**changes) -> DeskStatus:
    fields = dict(broker=BROKER, connected=True, lag=0, pending=0, quarantined=0, embedded=False)
    return DeskStatus(**(fields | changes))


def test_the_reason_of_a_disconnect_is_in_the_text_on_one_shortened_line(qtbot):
    bar = DeskStatusBar()
    qtbot.addWidget(bar)
    reason = "cannot reach the broker: 127.0.0.1:9 refused the connection " + "(details) " * 30 + "\nsecond line"
    bar.show_status(status(connected=False, lag=0, problem=reason))
    text = bar.broker.text()
    assert "not connected: cannot reach the broker: 127.0.0.1:9 refused the connection" in text
    assert "second line" not in text and text.endswith("…") and len(text) < 200
    assert bar.broker.toolTip() == reason
    assert bar.lag.text() == "Lag: unknown"  # not "0 events": the log's end is not known while disconnected


def test_connected_shows_the_lag_and_starting_is_no_failure(qtbot):
    bar = DeskStatusBar()
    qtbot.addWidget(bar)
    bar.show_status(status(lag=1234))
    assert bar.broker.text().endswith("Kafka: external cluster at 127.0.0.1:9, connected")
    assert bar.lag.text() == "Lag: 1,234 events"
    bar.show_status(status(connected=False, lag=None, starting=True, embedded=True, problem="cannot reach"))
    assert bar.broker.text().endswith("Kafka: starting …")
    assert bar.lag.text() == "Lag: unknown"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_window_whose_cluster_is_down_shows_why_and_no_lag(tmp_path: Path, qtbot, run_async, isolated_qsettings):
    settings = Settings(data_dir=tmp_path / "desk", bootstrap_servers=f"127.0.0.1:{free_port()}", topic="orders-down")
    runtime = DeskRuntime(settings)
    run_async(runtime.start())
    window = MainWindow(runtime)
    qtbot.addWidget(window)
    try:
        window.start()
        window.show()
        qtbot.waitUntil(lambda: "not connected: " in window.status.broker.text(), timeout=60_000)
        assert window.status.lag.text() == "Lag: unknown"
        reason = window.status.broker.toolTip()
        assert reason and one_line(reason) in window.status.broker.text()
    finally:
        window.close()
        run_async(runtime.stop())


def test_starting_our_own_broker_says_starting_not_failed(isolated_data_dir: Path, qtbot, run_async,
                                                          isolated_qsettings, caplog):
    caplog.set_level(logging.INFO, logger="desktop_app")
    runtime = DeskRuntime(Settings(data_dir=isolated_data_dir, partitions=2))
    run_async(runtime.start())
    window = MainWindow(runtime)
    qtbot.addWidget(window)
    seen: list[str] = []
    watch = QTimer()
    watch.setInterval(20)
    watch.timeout.connect(lambda: seen.append(window.status.broker.text()))
    watch.start()
    try:
        window.start()
        window.show()
        qtbot.waitUntil(lambda: ", connected" in window.status.broker.text(), timeout=120_000)
    finally:
        watch.stop()
        window.close()
        run_async(runtime.stop(), timeout=120)
    assert any("Kafka: starting …" in text for text in seen)
    assert not any("not connected" in text for text in seen), seen
    failures = [r.getMessage() for r in caplog.records  # aiokafka's own are silenced by logs.configure_logging
                if r.name.startswith("desktop_app") and r.levelno >= logging.WARNING and "failed" in r.getMessage()]
    assert failures == []
    assert any("waiting for Kafka to start" in r.getMessage() for r in caplog.records)


def test_long_texts_in_the_bar_never_widen_the_window(qtbot):
    window = QMainWindow()
    bar = DeskStatusBar()
    window.setStatusBar(bar)
    qtbot.addWidget(window)
    window.resize(1000, 300)
    window.show()
    bar.show_status(status(connected=False, problem="cannot reach the broker: " + "x" * 80))
    bar.rebuild.begin("projection version changed from 3 to 4")
    bar.rebuild.show_progress(123_456_789, 987_654_321)
    qtbot.wait(100)
    assert window.width() == 1000
