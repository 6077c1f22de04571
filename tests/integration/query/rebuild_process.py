"""A projecting read side in its own process that rebuilds its view, for crash tests: kill it mid-rebuild.

    python rebuild_process.py DB_PATH TOPIC BOOTSTRAP_SERVERS MAX_RECORDS
Prints "projecting", then "caught-up", then "progress DONE TOTAL" lines while rebuilding, then "rebuilt".
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from desktop_app.query.runner import ProjectorOptions
from desktop_app.query.service import QueryService


def main() -> int:
    db_path, topic, bootstrap_servers, max_records = sys.argv[1:5]
    service = QueryService(
        Path(db_path), {"bootstrap_servers": bootstrap_servers}, topic,
        options=ProjectorOptions(max_records=int(max_records)),
    )
    if not service.start():
        print("locked", flush=True)
        return 1
    print("projecting", flush=True)
    if not service.catch_up(60):
        print("not caught up", flush=True)
        return 1
    print("caught-up", flush=True)
    outcome = service.rebuild(progress=lambda done, total: print(f"progress {done} {total}", flush=True))
    print("rebuilt" if outcome.completed else "cancelled", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    raise SystemExit(main())
