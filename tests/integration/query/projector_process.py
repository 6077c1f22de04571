"""A read side in its own process, for crash tests: project until killed, optionally rebuilding first.

    python projector_process.py DB_PATH TOPIC BOOTSTRAP_SERVERS MAX_RECORDS [rebuild] [in-child]
Prints "projecting" once it holds the read model's lock and its projector runs (with `in-child`, in a child
process, whose pid follows as "child PID"). With `rebuild` it then prints "caught-up", "progress DONE TOTAL"
lines while it rebuilds its view, and "rebuilt" (or "cancelled").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from desktop_app.query.projector_options import ProjectorOptions
from desktop_app.query.service import QueryService


def main() -> int:
    db_path, topic, bootstrap_servers, max_records = sys.argv[1:5]
    rebuild = "rebuild" in sys.argv[5:]
    isolation = "process" if "in-child" in sys.argv[5:] else "thread"
    service = QueryService(
        Path(db_path), {"bootstrap_servers": bootstrap_servers}, topic,
        options=ProjectorOptions(max_records=int(max_records), isolation=isolation),
    )
    if not service.start():
        print("locked", flush=True)
        return 1
    print("projecting", flush=True)
    if isolation == "process":
        print(f"child {service._runner.pid}", flush=True)
    if rebuild:
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
