"""The embedded broker's jars: fetched once from Maven Central into the user cache dir, then reused."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from desktop_app.settings import RESOURCES_DIR

POM = RESOURCES_DIR / "kafka" / "pom.xml"
COMPLETE_MARKER = ".complete"

Progress = Callable[[str], None]


class MissingPrerequisite(RuntimeError):
    """A program the embedded broker needs is not installed."""


INSTALL_HINTS = {
    "java": "Java 17 or newer is needed to run the embedded Kafka broker. Install it with "
    "'sudo apt-get install openjdk-17-jre-headless' (Debian/Ubuntu), 'brew install openjdk@17' (macOS), "
    "or from https://adoptium.net, or set ORDER_DESK_BOOTSTRAP_SERVERS to use an existing Kafka cluster.",
    "mvn": "Apache Maven is needed once, to fetch the Kafka jars from Maven Central. Install it with "
    "'sudo apt-get install maven' (Debian/Ubuntu) or 'brew install maven' (macOS), "
    "or set ORDER_DESK_BOOTSTRAP_SERVERS to use an existing Kafka cluster.",
}


def require_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingPrerequisite(f"'{name}' was not found on PATH. {INSTALL_HINTS[name]}")
    return path


def kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    assert node is not None and node.text, f"kafka.version missing in {POM}"
    return node.text.strip()


def libs_dir(cache_dir: Path) -> Path:
    return cache_dir / f"kafka-{kafka_version()}" / "libs"


def jars_present(cache_dir: Path) -> bool:
    return (libs_dir(cache_dir) / COMPLETE_MARKER).exists()


def _stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_jars(cache_dir: Path, progress: Progress = _stderr_progress) -> Path:
    """Return the folder of Kafka jars, fetching them with Maven first if they are not cached."""
    target = libs_dir(cache_dir)
    if (target / COMPLETE_MARKER).exists():
        return target
    mvn = require_program("mvn")
    staging = target.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    progress(f"Fetching Apache Kafka {kafka_version()} jars from Maven Central into {target.parent} ...")
    command = [
        mvn, "-B", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
    ]
    tail: list[str] = []
    fetched = 0
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-30:]
            if "Downloaded from" in line:
                fetched += 1
                if fetched % 10 == 0:
                    progress(f"  ... {fetched} files downloaded")
        code = proc.wait()
    if code != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = "\n".join(tail)
        raise RuntimeError(f"Maven could not fetch the Kafka jars (exit {code}):\n{detail}")
    count = len(list(staging.glob("*.jar")))
    (staging / COMPLETE_MARKER).write_text(kafka_version())
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    progress(f"Kafka jars ready: {count} jars in {target}")
    return target


def main() -> int:
    """Fetch the jars, printing progress (`python -m desktop_app.broker`, used by the Makefile)."""
    from desktop_app.settings import Settings

    settings = Settings()
    if not settings.embedded:
        print(f"Kafka cluster {settings.bootstrap_servers} configured: no embedded broker, no jars needed",
              file=sys.stderr)
        return 0
    try:
        libs = ensure_jars(settings.cache_dir)
        require_program("java")
        print(f"Kafka {kafka_version()} jars: {libs}", file=sys.stderr)
    except (MissingPrerequisite, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
