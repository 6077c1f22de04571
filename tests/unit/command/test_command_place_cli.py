"""`order-desk place` input handling: lines from the options, and invalid input (exit 2, nothing written).
No broker: invalid input must be refused before anything is opened."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from desktop_app.cli import EXIT_INVALID
from desktop_app.cli import place_cmd
from desktop_app.command.model import LineInput
from desktop_app.settings import Settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="order-desk")
    place_cmd.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["place", *argv])


def test_the_first_line_comes_from_item_price_qty_and_more_from_line() -> None:
    args = parse("--customer", "alice", "--item", "Tea", "--price", "3.50", "--qty", "2",
                 "--line", "Mug", "£4.50", "4", "--line", "Kettle", "24.99", "1", "--command-id", "cmd-9")
    cmd = place_cmd.command_from_args(args)
    assert cmd.customer_id == "alice" and cmd.command_id == "cmd-9"
    assert cmd.lines == (LineInput("Tea", "3.50", "2"), LineInput("Mug", "£4.50", "4"),
                         LineInput("Kettle", "24.99", "1"))


def test_lines_alone_are_enough_and_quantity_defaults_to_one() -> None:
    only_lines = place_cmd.command_from_args(parse("--customer", "bob", "--line", "Mug", "4.50", "4"))
    assert only_lines.lines == (LineInput("Mug", "4.50", "4"),)
    assert only_lines.command_id  # a fresh id when none is given
    first = place_cmd.command_from_args(parse("--customer", "bob", "--item", "Tea", "--price", "1"))
    assert first.lines == (LineInput("Tea", "1", "1"),)


@pytest.mark.parametrize(
    ("argv", "messages"),
    [
        (["--customer", " ", "--item", "Tea", "--price", "4.999", "--qty", "0", "--line", "Mug", "1e3", "x"],
         ["Customer: is required", "Line 1 price: at most 2 decimal places",
          "Line 1 quantity: must be from 1 to 10,000", "Line 2 price: must be written without an exponent",
          "Line 2 quantity: must be a whole number"]),
        (["--customer", "alice"], ["Lines: at least one line is required"]),
        ([], ["Customer: is required", "Lines: at least one line is required"]),
        (["--customer", "alice", "--item", "Tea"], ["Line 1 price: is required"]),
        (["--customer", "alice", "--price", "2"], ["Line 1 item: is required"]),
        (["--customer", "alice", "--item", "Tea", "--price", "1,000.00"],
         ["Line 1 price: must not contain thousands separators (write 1000.00)"]),
        (["--customer", "alice", "--item", "Tea", "--price", "1", "--command-id", "has space"],
         ["Command id: must not contain spaces or control characters"]),
    ],
)
def test_invalid_input_exits_2_with_every_message_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], messages: list[str]
) -> None:
    data_dir = tmp_path / "desk"
    settings = Settings(data_dir=data_dir, bootstrap_servers="127.0.0.1:9")  # never contacted
    args = parse(*argv, "--json")
    assert args.func(args, settings) == EXIT_INVALID
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"order-desk: {m}" for m in messages]
    assert out == ""
    assert not data_dir.exists()
