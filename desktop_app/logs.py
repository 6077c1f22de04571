"""Logging set-up shared by the GUI and the CLI: a rotating file under <data dir>/logs, plus stderr."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from desktop_app.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


class _LazyRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Creates its folder and file on the first record only: a refused command writes nothing.

    If the file cannot be written (disk full, read-only data dir), it says so once on stderr and turns
    itself off, instead of printing a "--- Logging error ---" traceback for every record."""

    broken = False

    def _open(self):  # type: ignore[no-untyped-def]
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if self.broken:
            return
        self.broken = True
        why = sys.exc_info()[1]
        reason = getattr(why, "strerror", None) or str(why) or type(why).__name__
        try:
            sys.stderr.write(f"order-desk: cannot write the log file {self.baseFilename} ({reason}); "
                             "not logging to it any more in this run\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - nowhere left to say it
            pass
        try:
            stream, self.stream = self.stream, None  # type: ignore[assignment]
            if stream is not None:
                stream.close()
        except Exception:  # noqa: BLE001 - closing a stream on a full disk can fail too
            pass


def configure_logging(settings: Settings, *, verbose: bool = False, console_level: int | None = None) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_order_desk", False):
            root.removeHandler(handler)
    file_handler = _LazyRotatingFileHandler(
        settings.log_dir / "order-desk.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8", delay=True
    )
    file_handler.setFormatter(logging.Formatter(FORMAT))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.setLevel(console_level if console_level is not None else (logging.INFO if verbose else logging.WARNING))
    console.addFilter(lambda record: not getattr(record, "file_only", False))
    for handler in (file_handler, console):
        handler._order_desk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    # aiokafka logs every failed connection attempt at ERROR; the relay and projector report outages.
    logging.getLogger("aiokafka").setLevel(logging.INFO if verbose else logging.CRITICAL)
