"""`cancel / amend` without a broker: the commands built from the options, the receipt's words, and typed
input refused with exit 2 before anything is opened."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from desktop_app.cli import change_cmds
from desktop_app.cli.receipts import Outcome, say
from desktop_app.command.model import LineInput
from desktop_app.command.order_changes import AmendOrder, CancelOrder
from desktop_app.command.outbox import Receipt

ORDER_ID = "0b9f6a52-3c1e-4d2f-9a57-1f7e3b2c4d5e"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="order-desk")
    change_cmds.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cancel_options_make_the_command() -> None:
    cmd = change_cmds.cancel_from_args(parse("cancel", ORDER_ID, "--reason", "typo", "--customer", "ann",
                                             "--command-id", "c-1"))
    assert cmd == CancelOrder(ORDER_ID, "typo", "c-1", "ann")
    fresh = change_cmds.cancel_from_args(parse("cancel", ORDER_ID))
    assert (fresh.reason, fresh.customer_id) == ("", None) and fresh.command_id
    args = parse("cancel", ORDER_ID, "--wait", "--timeout", "5", "--json", "--no-sync")
    assert (args.wait, args.timeout, args.json, args.no_sync, args.sync_timeout) == (True, 5.0, True, True, 30.0)


def test_amend_options_make_the_command_with_the_new_lines_only() -> None:
    cmd = change_cmds.amend_from_args(parse("amend", ORDER_ID, "--line", "Tea", "3.50", "1", "--line", "Mug",
                                            "£4.50", "2", "--command-id", "a-1"))
    assert cmd == AmendOrder(ORDER_ID, (LineInput("Tea", "3.50", "1"), LineInput("Mug", "£4.50", "2")),
                             "amended", "a-1", None)
    assert change_cmds.amend_from_args(parse("amend", ORDER_ID)).lines == ()


def receipt(order_id: str, status: str = "published") -> Receipt:
    return Receipt(uuid.UUID(order_id), "cmd-1", status, 2, 41, uuid.uuid4())  # type: ignore[arg-type]


def test_the_receipts_name_what_was_changed(capsys) -> None:
    cancel = change_cmds.wording_for(CancelOrder(ORDER_ID))
    say(Outcome(receipt(ORDER_ID), visible=True), False, cancel)
    assert capsys.readouterr().out == (f"cancellation of order {ORDER_ID} published (partition 2, offset 41) and "
                                       "visible in the read model; command id cmd-1\n")

    new_id = str(uuid.uuid4())
    amend = change_cmds.wording_for(AmendOrder(ORDER_ID.upper(), (LineInput("Tea", "1", "1"),)))
    say(Outcome(receipt(new_id, "accepted"), problem="not published yet"), False, amend)
    out, err = capsys.readouterr()
    assert out == f"order {new_id} (replacing order {ORDER_ID}) accepted (queued for publishing); command id cmd-1\n"
    assert err == "order-desk: not published yet\n"
    say(Outcome(receipt(new_id), visible=True), True, amend)
    assert json.loads(capsys.readouterr().out) == {"order_id": new_id, "command_id": "cmd-1", "status": "visible",
                                                   "partition": 2, "offset": 41, "replaces": ORDER_ID}


@pytest.mark.parametrize(("argv", "messages"), [
    (["cancel", "12-ab"], ["Order id: is not an order id"]),
    (["cancel", " ", "--reason", "x" * 201],
     ["Order id: is required", "Reason: at most 200 characters (this has 201)"]),
    (["amend", ORDER_ID], ["Lines: at least one line is required"]),
    (["amend", "nope", "--line", "Tea", "-1", "0"],
     ["Order id: is not an order id", "Line 1 price: must not have a sign", "Line 1 quantity: must be from 1 to 10,000"]),
])
def test_typed_input_is_refused_with_exit_2_before_anything_is_opened(tmp_path: Path, argv, messages) -> None:
    data_dir = tmp_path / "desk"
    # an address nothing listens on: had the command got as far as the broker, it would have said so
    result = subprocess.run([sys.executable, "-m", "desktop_app", "--data-dir", str(data_dir),
                             "--bootstrap-servers", "127.0.0.1:9", *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"order-desk: {message}" for message in messages]
    assert result.stdout == "" and not data_dir.exists()


def test_help_documents_the_exit_codes() -> None:
    for command in ("cancel", "amend"):
        text = subprocess.run([sys.executable, "-m", "desktop_app", command, "--help"], capture_output=True,
                              text=True, timeout=60).stdout
        for code in ("0  accepted", "2  invalid input, one line per problem (nothing written)",
                     "3  --wait: accepted, but not published", "4  --wait: accepted (and maybe published)"):
            assert code in text, (command, code)
