"""Another process reading the same data dir: prints the view's row count every 50 ms until killed.

    python view_reader_process.py DB_PATH
Each line: ROWS EVENTS_APPLIED VIEW_FILE_NAME
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from desktop_app.query.views import ReadModel

POLL_S = 0.05


def main() -> int:
    model = ReadModel(Path(sys.argv[1]))
    while True:
        summary = model.summary()
        rows = sum(totals.rows for totals in summary.bands.values())
        print(rows, summary.events_applied, model.view_path.name, flush=True)
        time.sleep(POLL_S)


if __name__ == "__main__":
    raise SystemExit(main())
