"""Logging set-up shared by the GUI and the CLI: a rotating file under <data dir>/logs, plus stderr."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from desktop_app.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def configure_logging(settings: Settings, *, verbose: bool = False, console_level: int | None = None) -> None:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_order_desk", False):
            root.removeHandler(handler)
    file_handler = logging.handlers.RotatingFileHandler(
        settings.log_dir / "order-desk.log", maxBytes=5_000_000, backupCount=3, encoding="utf-8"
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
    logging.getLogger(__name__).info("settings: %s", settings.describe())
