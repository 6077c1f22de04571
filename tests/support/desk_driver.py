"""Drive `headless_desk.py` in a subprocess: send requests, collect its answers, SIGKILL it at will."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("headless_desk.py")


class DeskProcess:
    """One run of the headless desk. `accepted` collects every "accepted" answer (of orders and of
    cancellations), `refused` every "refused" one, in order."""

    def __init__(self, data_dir: Path, bootstrap_servers: str, topic: str, partitions: int) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_file = data_dir / "headless-desk.stderr"  # warnings and tracebacks, for a failing test
        paths = [str(REPO_ROOT), str(REPO_ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))
        with self.stderr_file.open("ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(SCRIPT), str(data_dir), bootstrap_servers, topic, str(partitions)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
            )
        self.accepted: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="desk-stdout", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                answer = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by SIGKILL
                continue
            if answer.get("op") in ("accepted", "refused"):
                with self._lock:
                    (self.accepted if answer["op"] == "accepted" else self.refused).append(answer)
            self._answers.put(answer)
        self._answers.put(None)

    def accepted_so_far(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.accepted)

    def send(self, *requests: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
            self.process.stdin.flush()
        except BrokenPipeError:  # killed meanwhile: what it did not read was never accepted
            pass

    def wait_for(self, op: str, timeout: float) -> dict[str, Any]:
        """The next answer of kind `op` (others are skipped). Fails if the desk exits or times out first."""
        while True:
            try:
                answer = self._answers.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"the headless desk did not answer {op!r} within {timeout}s") from None
            if answer is None:
                raise AssertionError(f"the headless desk exited (code {self.process.wait()}) before {op!r}; "
                                     f"see {self.stderr_file}")
            if answer.get("op") == op:
                return answer

    def kill(self) -> None:
        """SIGKILL, as in a crash or a power cut of the app (not of the machine)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)

    def close(self, timeout: float = 30) -> int:
        """End stdin (the desk stops cleanly) and wait; kill it if it does not stop in time."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
        except BrokenPipeError:
            pass
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the headless desk did not stop within {timeout}s of end of input") from None
        self._reader.join(timeout=30)
        return code
