"""The embedded broker: a real Apache Kafka KRaft node, run as a supervised child JVM.

Everything lives under `<data dir>/kafka`: `broker.json` (ports and cluster id, chosen once),
`broker.pid`, `server.properties` (rendered each start) and `data/` (the log). Start and stop
are serialised by a file lock, so the GUI and the CLI share one broker per data dir.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import filelock
import psutil

from desktop_app.broker.jars import require_program
from desktop_app.broker.topics import probe_metadata
from desktop_app.settings import RESOURCES_DIR

log = logging.getLogger(__name__)

TEMPLATE = RESOURCES_DIR / "kafka" / "server.properties.template"
LOG4J_CONFIG = RESOURCES_DIR / "kafka" / "log4j2.xml"
MAIN_CLASS = "kafka.Kafka"


class BrokerError(RuntimeError):
    """The embedded broker could not be started or stopped; the message says why and where to look."""


@dataclass(frozen=True)
class BrokerIdentity:
    port: int
    controller_port: int
    cluster_id: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    def __init__(
        self,
        kafka_dir: Path,
        libs_dir: Path,
        log_dir: Path,
        *,
        heap: str = "512m",
        start_timeout_s: float = 60.0,
        partitions: int = 6,
        identity: BrokerIdentity | None = None,
        extra_properties: Mapping[str, str] | None = None,
        format_args: Sequence[str] = ("--standalone",),
        probe_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """`identity`, `extra_properties` (appended; the last value of a key wins), `format_args` and
        `probe_kwargs` (security arguments of the readiness probe) let a test build other topologies,
        such as a 3-node cluster or a SASL_SSL listener, from the same code."""
        self._fixed_identity = identity
        self.extra_properties = dict(extra_properties or {})
        self.format_args = list(format_args)
        self.probe_kwargs = dict(probe_kwargs or {})
        self.kafka_dir = kafka_dir
        self.libs_dir = libs_dir
        self.log_dir = log_dir
        self.heap = heap
        self.start_timeout_s = start_timeout_s
        self.partitions = partitions
        self._lock = filelock.FileLock(str(kafka_dir / "broker.lock"))

    # -- files -----------------------------------------------------------------------------------
    @property
    def identity_file(self) -> Path:
        return self.kafka_dir / "broker.json"

    @property
    def pid_file(self) -> Path:
        return self.kafka_dir / "broker.pid"

    @property
    def stop_request_file(self) -> Path:
        """Present after `stop()` until the next `start()`: a supervisor must not undo a requested stop."""
        return self.kafka_dir / "broker.stopped"

    @property
    def stop_requested(self) -> bool:
        return self.stop_request_file.exists()

    @property
    def properties_file(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.kafka_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "kafka.log"

    @property
    def console_file(self) -> Path:
        return self.log_dir / "kafka.console.log"

    def identity(self) -> BrokerIdentity:
        """Ports and cluster id: chosen at first start, then kept."""
        if self._fixed_identity is not None:
            return self._fixed_identity
        if self.identity_file.exists():
            return BrokerIdentity(**json.loads(self.identity_file.read_text()))
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        controller_port = free_port()
        while controller_port == port:
            controller_port = free_port()
        cluster_id = "-"
        while cluster_id.startswith("-"):  # Kafka's own ids never start with "-" (it reads as an option)
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        ident = BrokerIdentity(port=port, controller_port=controller_port, cluster_id=cluster_id)
        self.identity_file.write_text(json.dumps(ident.__dict__))
        return ident

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.identity().port}"

    # -- process ---------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of our running broker JVM, or None. A stale pid file is removed."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if self._is_our_broker(pid):
            return pid
        log.info("removing stale broker pid file (pid %s is not our broker)", pid)
        self.pid_file.unlink(missing_ok=True)
        return None

    def _is_our_broker(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return False
            cmdline = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return False
        except (psutil.Error, OSError):
            return True  # cannot look inside: do not call a live process stale
        return MAIN_CLASS in cmdline and str(self.properties_file) in cmdline

    def is_running(self) -> bool:
        return self.pid() is not None

    def _render_properties(self, ident: BrokerIdentity) -> None:
        text = Template(TEMPLATE.read_text()).substitute(
            port=ident.port,
            controller_port=ident.controller_port,
            log_dirs=self.log_dirs.as_posix(),
            partitions=self.partitions,
        )
        if self.extra_properties:
            text += "\n# Overrides (the last value of a key wins)\n"
            text += "".join(f"{key}={value}\n" for key, value in self.extra_properties.items())
        self.properties_file.write_text(text)

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        return [
            require_program("java"),
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dorderdesk.log.file={self.log_file}",
            "-cp",
            str(self.libs_dir / "*"),
            main_class,
            *args,
        ]

    def _format_storage(self, ident: BrokerIdentity) -> None:
        if (self.log_dirs / "meta.properties").exists():
            return
        command = self._java_command(
            "kafka.tools.StorageTool", "format", f"--cluster-id={ident.cluster_id}",
            "-c", str(self.properties_file), *self.format_args,
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise BrokerError(
                f"formatting Kafka storage in {self.log_dirs} failed:\n{result.stdout}{result.stderr}"
            )

    def _spawn(self, command: list[str]) -> subprocess.Popen[bytes]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        extra: dict[str, object] = {}
        if sys.platform == "win32":
            extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            extra["start_new_session"] = True
        with open(self.console_file, "ab") as console:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.kafka_dir,
                **extra,  # type: ignore[arg-type]
            )
        self.pid_file.write_text(str(proc.pid))
        # Reap the JVM the moment it ends, whoever stops it: an unreaped broker stays a zombie of this
        # process (the window), which `order-desk broker stop` in another process cannot wait for.
        threading.Thread(target=_reap, args=(proc,), name=f"broker-reaper-{proc.pid}", daemon=True).start()
        return proc

    def prepare(self) -> list[str]:
        """Choose the identity, render server.properties and format the storage once; the broker's command."""
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        ident = self.identity()
        self._render_properties(ident)
        self._format_storage(ident)
        return self._java_command(MAIN_CLASS, str(self.properties_file))

    async def start(self) -> bool:
        """Start the broker, or reuse the one already running on this data dir.

        Returns True if this call started it. Raises BrokerError, naming the log file, if it is not
        answering metadata requests within the start timeout.
        """
        self.kafka_dir.mkdir(parents=True, exist_ok=True)
        async with _locked(self._lock):
            self.stop_request_file.unlink(missing_ok=True)
            if self.pid() is not None:
                await self._wait_ready(None)
                return False
            child = self._spawn(await asyncio.to_thread(self.prepare))
            pid = child.pid
            log.info("started embedded Kafka (pid %d) on %s", pid, self.bootstrap_servers)
            try:
                await self._wait_ready(child)
            except BrokerError:
                self._terminate(pid, timeout_s=10)
                raise
            return True

    async def _wait_ready(self, child: subprocess.Popen[bytes] | None) -> None:
        """Poll until a metadata request succeeds. `child`: the process this call spawned, if any."""
        deadline = time.monotonic() + self.start_timeout_s
        last_error: Exception | None = None
        kwargs = {"bootstrap_servers": self.bootstrap_servers, "client_id": "order-desk-probe", **self.probe_kwargs}
        while time.monotonic() < deadline:
            alive = child.returncode is None if child is not None else self.pid() is not None  # see _reap
            if not alive:
                raise BrokerError(
                    f"the Kafka broker exited during start-up; see {self.log_file} and {self.console_file}"
                )
            try:
                if _port_open(self.identity().port) and await probe_metadata(kwargs, timeout_ms=2000) > 0:
                    return
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
                last_error = exc
            await asyncio.sleep(0.3)
        raise BrokerError(
            f"the Kafka broker did not answer a metadata request within {self.start_timeout_s:.0f} s "
            f"(last error: {last_error!r}); see {self.log_file}"
        )

    async def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, wait; SIGKILL only after the timeout). True if one was stopped."""
        if not self.kafka_dir.is_dir():
            return False  # never started here: stopping creates nothing
        async with _locked(self._lock):
            self.stop_request_file.touch()
            pid = self.pid()
            if pid is None:
                return False
            await asyncio.to_thread(self._terminate, pid, timeout_s)
            return True

    def kill(self) -> None:
        """SIGKILL, as in a crash (tests and fault drills)."""
        pid = self.pid()
        if pid is not None:
            try:
                proc = psutil.Process(pid)
                proc.kill()
            except psutil.NoSuchProcess:
                return
            _wait_ended(proc, 10.0)

    def _terminate(self, pid: int, timeout_s: float) -> None:
        """SIGTERM (and SIGCONT, so a frozen JVM gets it), wait until it has ended, SIGKILL after the timeout.

        Ended means gone or a zombie: the process that spawned the JVM (the window) reaps it, not us."""
        try:
            proc = psutil.Process(pid)
            proc.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)
            if os.name != "nt":
                proc.send_signal(signal.SIGCONT)
        except psutil.NoSuchProcess:
            self.pid_file.unlink(missing_ok=True)
            return
        if not _wait_ended(proc, timeout_s):
            log.warning("broker pid %d ignored SIGTERM for %.0f s; killing it", pid, timeout_s)
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
            if not _wait_ended(proc, 10.0):
                raise BrokerError(f"the Kafka broker (pid {pid}) did not end even after SIGKILL")
        self.pid_file.unlink(missing_ok=True)


def _reap(proc: subprocess.Popen[bytes]) -> None:
    code = proc.wait()
    log.info("embedded Kafka (pid %d) ended with exit code %s", proc.pid, code)


def _wait_ended(proc: psutil.Process, timeout_s: float) -> bool:
    """True once the process is gone or a zombie (it has ended; only its parent can reap it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class _locked:
    """Hold a FileLock across awaits without blocking the event loop while waiting for it."""

    def __init__(self, lock: filelock.FileLock) -> None:
        self.lock = lock

    async def __aenter__(self) -> None:
        while True:
            try:
                self.lock.acquire(timeout=0)
                return
            except filelock.Timeout:
                await asyncio.sleep(0.1)

    async def __aexit__(self, *exc: object) -> None:
        self.lock.release()
