"""Run CLI commands in this process, as `order-desk` would, against given settings: (exit code, stdout, stderr)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from types import ModuleType
from typing import Any


def run_commands(modules: Iterable[ModuleType], settings: Any, capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Parse `argv` with the subcommands the CLI `modules` register and run the one named, with `settings`."""
    parser = argparse.ArgumentParser(prog="order-desk")
    subparsers = parser.add_subparsers(dest="command")
    for module in modules:
        module.register(subparsers)
    args = parser.parse_args(argv)
    code = args.func(args, settings)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
