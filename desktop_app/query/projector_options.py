"""What a projector is told besides its file and topic: how it fetches, retries, and where it runs.

consumer.py reads the fetch settings, runner.py the retry settings, process_runner.py the isolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ProjectorOptions:
    fetch_max_wait_ms: int = 20  # how long the broker holds an empty fetch: the floor of visibility latency
    # records per batch (per transaction), at most. While the projector is behind (a getmany came back full),
    # getmany results are gathered up to this: each commit rewrites every page its random-key inserts touched.
    # Not more: applying a batch holds about 3.5 KB per record (50,000 would add some 140 MB at the peak)
    max_records: int = 20_000
    fetch_records: int = 10_000  # records per getmany
    poll_timeout_ms: int = 500  # longest getmany wait, so partition changes are noticed
    metadata_interval_s: float = 3.0  # how often partitions added to the topic are looked for
    busy_timeout_ms: int = 5000  # SQLite: how long a write waits for a lock before it is retried later
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    # How long after start a broker that cannot be reached yet is expected (our own, still starting): until
    # the projector first reaches it, such failures are logged at INFO as waiting and retried at retry_initial_s.
    broker_start_grace_s: float = 0.0
    consumer_overrides: dict[str, Any] = field(default_factory=dict)
    # "process": project in a child process (process_runner.py), so a burst never competes with the
    # caller's threads (the GUI) for the interpreter lock; "thread": in a thread of this process.
    isolation: Literal["thread", "process"] = "thread"
    # A rebuild of at least this many records first replays partition groups in this many processes
    # (partition_replay.py; 0: one per core), then merges them: both cores instead of one.
    replay_processes: int = 0
    parallel_replay_min_records: int = 100_000
