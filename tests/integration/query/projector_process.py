"""A read side in its own process, for crash tests: project until killed.

    python projector_process.py DB_PATH TOPIC BOOTSTRAP_SERVERS MAX_RECORDS
Prints "projecting" once it holds the read model's lock and its projector runs.
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
    while True:
        time.sleep(60)


if __name__ == "__main__":
    raise SystemExit(main())
