"""logs.py: a log file that cannot be written is said once, never as a flood of tracebacks (issue 12, point 7)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from desktop_app.logs import configure_logging
from desktop_app.settings import Settings


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_an_unwritable_log_file_is_reported_once_and_then_left_alone(tmp_path: Path, capsys, restore_root_logger):
    data_dir = tmp_path / "desk"
    data_dir.mkdir()
    (data_dir / "logs").write_text("a file where the log folder should be")  # the log cannot be created
    configure_logging(Settings(data_dir=data_dir))

    log = logging.getLogger("desktop_app.test")
    for n in range(50):
        log.warning("record %d", n)
        log.error("with a traceback", exc_info=ValueError("boom"))

    err = capsys.readouterr().err
    assert "Logging error" not in err and "Traceback (most recent call last)" not in err
    notices = [line for line in err.splitlines() if "cannot write the log file" in line]
    assert notices == [f"order-desk: cannot write the log file {data_dir / 'logs' / 'order-desk.log'} "
                       "(File exists); not logging to it any more in this run"]
    assert err.count("record 49") == 1  # the console still gets every warning
