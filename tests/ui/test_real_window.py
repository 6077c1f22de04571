"""The real window on a real X server (Xvfb, the xcb platform, not offscreen): it maps, takes Ctrl+Q, exits 0.

Guards the Linux package list: without one of the xcb libraries Qt aborts with exit 134 before any window.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

WINDOW_TITLE = "^Order Desk$"
MAP_TIMEOUT_S = 120
EXIT_TIMEOUT_S = 60

needs_xvfb = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xdotool") is None,
    reason="the real-window test needs Xvfb and xdotool (Debian: apt-get install xvfb xdotool; .ci/run installs them)",
)


@pytest.fixture
def x_display() -> Iterator[str]:
    """A private Xvfb server; it picks a free display number itself (-displayfd)."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()
        assert number, f"Xvfb did not start: {server.stderr.read().decode() if server.stderr else ''}"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(10)


def xdotool(display: str, *args: str, check: bool = True) -> str:
    result = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, capture_output=True,
                            text=True, timeout=10)
    assert result.returncode == 0 or not check, f"xdotool {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def wait_for_window(display: str, app: subprocess.Popen[bytes], stderr: Path) -> str:
    """The id of the app's mapped main window; fails at once if the app ends first (exit 134: a missing lib)."""
    deadline = time.monotonic() + MAP_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.poll() is not None:
            pytest.fail(f"the app ended before mapping a window (exit {app.returncode}):\n{stderr.read_text()}")
        found = xdotool(display, "search", "--onlyvisible", "--name", WINDOW_TITLE, check=False)
        if found:
            return found.splitlines()[0]
        time.sleep(0.25)
    pytest.fail(f"no window was mapped within {MAP_TIMEOUT_S} s")


@needs_xvfb
def test_the_real_window_maps_on_xcb_and_quits_with_ctrl_q(x_display: str, running_broker, tmp_path: Path):
    env = {
        **os.environ,
        "DISPLAY": x_display,
        "QT_QPA_PLATFORM": "xcb",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # window preferences, never the user's
        "ORDER_DESK_DATA_DIR": str(tmp_path / "desk"),
        "ORDER_DESK_BOOTSTRAP_SERVERS": running_broker.bootstrap_servers,
        "ORDER_DESK_TOPIC": f"orders-{uuid.uuid4().hex[:12]}",
        "ORDER_DESK_PARTITIONS": "2",
    }
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as sink:  # a file, not a pipe: a chatty app never blocks on a full pipe
        app = subprocess.Popen([sys.executable, "-m", "desktop_app"], env=env, stdout=sink, stderr=sink)
    try:
        window = wait_for_window(x_display, app, stderr)
        xdotool(x_display, "windowfocus", "--sync", window)
        xdotool(x_display, "key", "--clearmodifiers", "ctrl+q")  # File → Quit, as a user would
        app.wait(EXIT_TIMEOUT_S)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    err = stderr.read_text()
    assert app.returncode == 0, err
    assert "Traceback" not in err and "qt.qpa" not in err, err
