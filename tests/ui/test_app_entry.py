"""The real entry point in its own process: qasync.run, the embedded broker, an order, a clean quit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

from desktop_app.bootstrap import embedded_broker
from desktop_app.settings import Settings

GUI_SMOKE = Path(__file__).parents[1] / "support" / "gui_smoke.py"


def test_the_app_starts_its_broker_takes_an_order_and_quits_cleanly(isolated_data_dir: Path):
    result = subprocess.run([sys.executable, str(GUI_SMOKE), str(isolated_data_dir)], capture_output=True,
                            text=True, timeout=180, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen.get("timeout") is None, result.stderr
    assert seen["receipt"] == "Order for <b>smoke</b>: 1 line, total £5.00 — <b>visible</b>"
    assert seen["tabs"] == ["Cheap (1)", "Affordable (0)", "Expensive (0)"]
    assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr, result.stderr
    broker = embedded_broker(Settings(data_dir=isolated_data_dir), fetch_jars=False)
    assert broker.pid() is None  # the window started the broker, so quitting stopped it
    assert not any("kafka.Kafka" in " ".join(p.info["cmdline"] or ()) and str(isolated_data_dir) in
                   " ".join(p.info["cmdline"] or ()) for p in psutil.process_iter(["cmdline"]))
