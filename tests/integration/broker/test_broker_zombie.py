"""A broker that has ended but is not reaped yet (a zombie of the window) counts as stopped.

Issue 11, point 4: with the window open, `order-desk broker stop` waited 30 s for a JVM that had already
exited (a zombie the window never reaped), then SIGKILLed it, waited again and exited 1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from desktop_app.bootstrap import DeskRuntime, embedded_broker
from desktop_app.settings import Settings


def order_desk(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "desktop_app", *args], capture_output=True, text=True,
                          timeout=timeout)


def ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_broker_stop_succeeds_when_the_process_that_started_the_jvm_never_reaps_it(isolated_data_dir: Path):
    broker = embedded_broker(Settings(data_dir=isolated_data_dir), fetch_jars=False)
    command = broker.prepare()
    # `exec sleep` turns the shell that started the JVM into a parent that never calls wait(), as the
    # window did: the ended JVM stays its zombie child.
    holder = subprocess.Popen(
        ["sh", "-c", '"$@" >/dev/null 2>&1 & echo $! > "$PID_FILE"; exec sleep 600', "sh", *command],
        env={**os.environ, "PID_FILE": str(broker.pid_file)}, cwd=broker.kafka_dir, start_new_session=True,
    )
    jvm_pid: int | None = None
    try:
        deadline = time.monotonic() + 30
        while not broker.pid_file.exists() or not broker.pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the holder did not start the JVM"
            time.sleep(0.05)
        assert asyncio.run(broker.start()) is False  # reuses the running JVM, once it answers
        jvm_pid = broker.pid()
        assert jvm_pid is not None and psutil.Process(jvm_pid).ppid() == holder.pid

        stopped = order_desk("--data-dir", str(isolated_data_dir), "broker", "stop")

        assert stopped.returncode == 0, stopped.stderr
        assert "killing" not in stopped.stderr
        assert ended(jvm_pid)
        assert psutil.Process(holder.pid).status() != psutil.STATUS_ZOMBIE  # the holder did not reap it
        assert broker.pid() is None and not broker.pid_file.exists()
        again = order_desk("--data-dir", str(isolated_data_dir), "broker", "stop")
        assert again.returncode == 0 and "not running" in again.stdout
    finally:
        if jvm_pid is not None and not ended(jvm_pid):
            os.kill(jvm_pid, signal.SIGKILL)
        holder.kill()
        holder.wait()


def test_desk_runtime_reaps_the_broker_it_started_when_the_broker_ends(isolated_data_dir: Path):
    settings = Settings(data_dir=isolated_data_dir, partitions=1)

    async def scenario() -> int:
        runtime = DeskRuntime(settings)
        runtime.SUPERVISE_EVERY_S = 3600  # no restart: this test is about the ended JVM being reaped
        await runtime.start()
        try:
            async with asyncio.timeout(120):
                while runtime.connection is None:
                    await asyncio.sleep(0.1)
            pid = embedded_broker(settings, fetch_jars=False).pid()
            assert pid is not None and psutil.Process(pid).ppid() == os.getpid()
            os.kill(pid, signal.SIGTERM)  # e.g. `order-desk broker stop` from another terminal
            async with asyncio.timeout(60):
                while psutil.pid_exists(pid):  # a zombie still exists: only reaping removes it
                    await asyncio.sleep(0.1)
            return pid
        finally:
            await runtime.stop()

    pid = asyncio.run(scenario())
    assert not psutil.pid_exists(pid)


def test_broker_stop_beside_a_running_desk_stops_it_and_the_desk_leaves_it_stopped(isolated_data_dir: Path):
    settings = Settings(data_dir=isolated_data_dir, partitions=1)
    broker = embedded_broker(settings, fetch_jars=False)

    async def scenario() -> None:
        runtime = DeskRuntime(settings)
        runtime.SUPERVISE_EVERY_S = 0.2
        await runtime.start()
        try:
            async with asyncio.timeout(120):
                while runtime.connection is None:
                    await asyncio.sleep(0.1)
            pid = broker.pid()
            assert pid is not None
            stopped = await asyncio.to_thread(order_desk, "--data-dir", str(isolated_data_dir), "broker", "stop")
            assert stopped.returncode == 0, stopped.stderr
            async with asyncio.timeout(60):
                while psutil.pid_exists(pid):  # reaped by this desk, its parent
                    await asyncio.sleep(0.1)
            await asyncio.sleep(10 * runtime.SUPERVISE_EVERY_S)  # ten supervision turns: no restart
            assert broker.pid() is None
            assert runtime.broker_error and "order-desk broker stop" in runtime.broker_error

            started = await asyncio.to_thread(order_desk, "--data-dir", str(isolated_data_dir), "broker", "start")
            assert started.returncode == 0, started.stderr
            async with asyncio.timeout(60):
                while runtime.connection is None or runtime.broker_error is not None:
                    await asyncio.sleep(0.1)
        finally:
            await runtime.stop()

    try:
        asyncio.run(scenario())
        assert broker.pid() is not None  # the CLI started this broker: quitting the desk leaves it running
    finally:
        asyncio.run(broker.stop())
