"""The dependency rules of the map: checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "desktop_app"


def imported_modules(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(PACKAGE))] = names
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{module} imports {name}"
        for module, names in imported_modules(folder).items()
        for name in sorted(names)
        if name.split(".")[0] in forbidden or name.startswith(forbidden)
    ]


@pytest.mark.parametrize("folder", ["command", "query"])
def test_command_and_query_import_no_qt(folder):
    assert offenders(folder, ("PySide6", "qasync", "desktop_app.ui")) == []


def test_ui_imports_no_aiokafka():
    assert offenders("ui", ("aiokafka",)) == []


def test_sides_share_only_the_contracts():
    assert offenders("command", ("desktop_app.query",)) == []
    assert offenders("query", ("desktop_app.command",)) == []


def test_the_scan_sees_real_imports():
    assert "desktop_app.contracts" in set().union(*imported_modules("command").values())
    assert "PySide6.QtWidgets" in set().union(*imported_modules("ui").values())


def test_ui_reaches_kafka_through_no_infrastructure_module():
    assert offenders("ui", ("desktop_app.kafka_internals", "desktop_app.kafka_errors")) == []


def test_only_the_tracker_reads_stored_offsets_with_sql():
    """How offsets are read and waited for is one rule (query/tracking.py); projector.py's own read is the
    projector's, kept for its tests until the projector is reworked."""
    readers = [
        str(path.relative_to(PACKAGE))
        for path in sorted((PACKAGE / "query").rglob("*.py"))
        if path.name not in ("tracking.py", "projector.py", "schema.py")
        and ("PartitionOffset" in path.read_text() or "OFFSETS.c.next_offset" in path.read_text())
    ]
    assert readers == []


def test_only_the_chart_draws_with_pyqtgraph():
    """The plotting library stays in one ui/ module, so it can be swapped (Qt Charts, say) in one place."""
    users = [module for module, names in imported_modules("").items()
             if any(name.split(".")[0] == "pyqtgraph" for name in names)]
    assert users == ["ui/day_chart.py"]


def test_test_files_have_unique_names():
    """pytest imports test files by their base name (the test folders are not packages): two files of one
    name stop the whole run at collection, so each name is used once under tests/."""
    names = [path.name for path in (PACKAGE.parent / "tests").rglob("test_*.py")]
    assert sorted({name for name in names if names.count(name) > 1}) == []
