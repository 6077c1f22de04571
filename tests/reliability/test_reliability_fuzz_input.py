"""Fuzzed input: hypothesis types whatever it likes into `order-desk place` and into the order form's
validator.

Promise tested: a bad keystroke never takes the app down and never writes an order. Every input either
places exactly one order (exit 0, one more record in the topic, prices exact to the penny) or is refused
(exit 2, one readable message per problem, no outbox row, the topic's end offsets unchanged).
The CLI runs in this process (`desktop_app.cli.main`) against the session's real broker.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import unicodedata
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from desktop_app import cli, contracts
from desktop_app.command.model import InvalidOrder, LineInput, PlaceOrder, Problem, check, validate
from desktop_app.settings import Settings
from support.log_audit import end_offsets, read_log

# -- what a person might type -------------------------------------------------------------------------------
any_char = st.characters(exclude_categories=())  # everything, lone surrogates (undecodable argv bytes) too
tricky_labels = st.sampled_from([
    "alice", " bob ", "", "   ", "x" * 64, "x" * 65, "y" * 120, "y" * 121, "a\nb", "tab\there", "a\u2028b",
    "\udcff", "Zoë", "\u200b", "\x00", "-dash", "--", "£", "ﬁ", "👩‍👩‍👧", "e\u0301", "O'Brien; DROP TABLE",
    "\ufeff", "\u200d", "\u0301", " \u200b ", "\u202e", "\u202eecila", "x\u2066y\u2069", "\u200f", "Alice",
])
tricky_prices = st.sampled_from([
    "4.99", "£4.99", "£ 4.99", " 12 ", "0", "0.00", "0.01", "-1", "+1", "\u22121", "1e3", "1E-2", "NaN", "inf",
    "1,000.00", "1 000", "1_000", "0.001", "1000000.00", "1000000.01", "١٢", "４.９９", ".5", "5.", "", " ",
    "4.99.1", "0x10", "£", "££1", "99999999999999999999999",
])
tricky_quantities = st.sampled_from([
    "1", "0", "10000", "10001", "-1", "1.0", "٣", " 2 ", "", "00000000000000000001", "99999999999999999999",
    "1e2", "+3", "two",
])
tricky_command_ids = st.sampled_from(["", " ", "a b", "x" * 128, "x" * 129, "nl\n", "\x00", "ok-id", "\u00a0"])


def typed(samples: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(samples, st.text(any_char, max_size=max_size))


prices = st.one_of(
    tricky_prices, st.text(any_char, max_size=12), st.integers(-10**12, 10**12).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str), st.floats().map(repr),
    st.integers(1, 10**8).map(lambda p: f"{p // 100}.{p % 100:02d}"),  # plenty of valid prices too
)
quantities = st.one_of(tricky_quantities, st.text(any_char, max_size=6), st.integers(-5, 20_000).map(str))
line_fields = st.tuples(typed(tricky_labels, 130), prices, quantities)
wild_form = st.fixed_dictionaries(
    {
        "customer": typed(tricky_labels, 70),
        "first": line_fields,
        "qty_omitted": st.booleans(),
        "more": st.lists(line_fields, max_size=3),
        "command_id": st.one_of(st.none(), tricky_command_ids, st.text(any_char, max_size=130)),
    }
)
plausible_line = st.tuples(
    st.sampled_from(["Tea", " Mug ", "Kettle (2 l)", "Café crème", "Lamp"]),
    st.integers(1, 10**8).map(lambda p: f"{p // 100}.{p % 100:02d}") | st.sampled_from(["£4.99", " 12 ", "0.5"]),
    st.integers(1, 10_000).map(str),
)
plausible_form = st.fixed_dictionaries(
    {
        "customer": st.sampled_from(["alice", " bob ", "Zoë", "x" * 64]),
        "first": plausible_line,
        "qty_omitted": st.booleans(),
        "more": st.lists(plausible_line, max_size=2),
        "command_id": st.one_of(st.none(), st.uuids().map(str)),
    }
)
form = st.one_of(wild_form, plausible_form)


def argv_for(entry: dict[str, Any], settings: Settings, data_dir: Path) -> list[str]:
    item, price, quantity = entry["first"]
    argv = [f"--data-dir={data_dir}", f"--bootstrap-servers={settings.bootstrap_servers}", f"--topic={settings.topic}",
            "place", f"--customer={entry['customer']}", f"--item={item}", f"--price={price}"]
    if not entry["qty_omitted"]:
        argv.append(f"--qty={quantity}")
    for line in entry["more"]:
        argv += ["--line", *line]
    if entry["command_id"] is not None:
        argv.append(f"--command-id={entry['command_id']}")
    return argv


def as_parsed(value: str) -> str:
    """What argparse (3.11) makes of `--option=VALUE`: a lone "--" is dropped, leaving no value."""
    return "" if value == "--" else value


def form_command(entry: dict[str, Any]) -> PlaceOrder:
    """The order the CLI should build from the entry: the oracle for its exit code and messages."""
    item, price, quantity = (as_parsed(value) for value in entry["first"])
    lines = [LineInput(item, price, "1" if entry["qty_omitted"] else quantity)]
    lines += [LineInput(*line) for line in entry["more"]]
    command_id = as_parsed(entry["command_id"] or "")
    return PlaceOrder(as_parsed(entry["customer"]), tuple(lines), command_id or "a-fresh-uuid")


def option_like(text: str) -> bool:
    """argparse may take a value after --line for an option when it starts with '-'."""
    return len(text) > 1 and text.startswith("-")


def outbox_rows(data_dir: Path) -> int:
    path = data_dir / "command.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM outbox").fetchone()[0]


def typed_label(text: str) -> str:
    """A customer id or item name as typed, trimmed and in NFC: the rule of `customer_id_of`."""
    return unicodedata.normalize("NFC", text.strip())


def a_clerk_can_see(label: str) -> bool:
    """Some character draws something (not a space, format character or mark), and none reorders the text."""
    visible = any(not (ch.isspace() or unicodedata.category(ch) in {"Cf", "Mn", "Mc", "Me"}) for ch in label)
    return visible and not any("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069" or ch in "\u200e\u200f\u061c"
                               for ch in label)


def typed_pence(price: str) -> int:
    amount = price.strip().removeprefix("£").strip()
    return int(Decimal(amount) * 100)


def run_cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exit_:  # argparse refusing the command line
        return int(exit_.code or 0)


@pytest.mark.timeout(1200)  # room for hypothesis to shrink a failing example (each one is a CLI run)
@pytest.mark.parametrize(
    ("examples", "derandomize"),
    [pytest.param(25, True, id="short"), pytest.param(400, False, id="full", marks=pytest.mark.slow)],
)
def test_fuzzed_place_command_never_crashes_and_refuses_without_writing(
    topic_ready: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], examples: int, derandomize: bool,
    report,
) -> None:
    settings = topic_ready
    numbers = count()
    placed: dict[str, dict[str, Any]] = {}  # order id -> the entry that placed it
    outcomes = {"placed": 0, "refused by validation": 0, "refused by argparse": 0}

    @hypothesis_settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(entry=form)
    def place(entry: dict[str, Any]) -> None:
        data_dir = tmp_path / f"example-{next(numbers)}"  # a fresh outbox: examples do not share command ids
        before = end_offsets(settings.kafka_client_kwargs(), settings.topic)
        capsys.readouterr()
        code = run_cli(argv_for(entry, settings, data_dir))
        out, err = capsys.readouterr()
        after = end_offsets(settings.kafka_client_kwargs(), settings.topic)
        problems = validate(form_command(entry))
        argparse_refuses = any(option_like(value) for line in entry["more"] for value in line)

        assert code in (0, 2), f"exit {code}: {err}"
        if code == 2:
            assert sum(after.values()) == sum(before.values()), "a refused order changed the topic"
            assert outbox_rows(data_dir) == 0, "a refused order reached the outbox"
            assert not out
            if "usage: order-desk" in err:
                assert argparse_refuses and "error:" in err, err
                outcomes["refused by argparse"] += 1
            else:
                assert problems, f"a valid order was refused: {err}"
                assert err.splitlines() == [f"order-desk: {p}" for p in problems]
                outcomes["refused by validation"] += 1
        else:
            assert not problems, f"an invalid order was placed: {problems}"
            assert sum(after.values()) == sum(before.values()) + 1, "a placed order must be one record"
            assert outbox_rows(data_dir) == 1
            order_id = re.match(r"order (\S+) published", out).group(1)
            placed[order_id] = entry
            outcomes["placed"] += 1

    place()

    log = asyncio.run(read_log(settings.kafka_client_kwargs(), settings.topic))
    logged = {str(r.event.payload.order_id): r.event for r in log}
    assert len(log) == len(logged) == len(placed) and set(logged) == set(placed)
    for order_id, entry in placed.items():
        first_item, first_price, first_qty = entry["first"]
        typed_lines = [(first_item, first_price, "1" if entry["qty_omitted"] else first_qty), *entry["more"]]
        event = logged[order_id]
        assert event.payload.customer_id == typed_label(entry["customer"])
        assert all(a_clerk_can_see(label) for label in (event.payload.customer_id, *(ln.item for ln in event.payload.lines)))
        assert [(ln.item, ln.unit_price_pence, ln.quantity) for ln in event.payload.lines] == [
            (typed_label(item), typed_pence(price), int(quantity)) for item, price, quantity in typed_lines
        ], "the published order must be exactly what was typed, to the penny"
    report(f"{examples} examples: {outcomes}")


# -- the form's validator, without a broker ---------------------------------------------------------------------
anything = st.one_of(
    st.text(any_char, max_size=20), st.integers(), st.floats(), st.decimals(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(), st.binary(max_size=8), st.lists(st.integers(), max_size=2),
)
field_values = st.one_of(typed(tricky_labels, 130), prices, quantities, anything)
lines = st.lists(
    st.one_of(st.builds(LineInput, item=field_values, price=field_values, quantity=field_values), anything),
    max_size=4,
)
FIELD = re.compile(r"customer|command_id|lines|line\[[1-9][0-9]*\]\.(item|price|quantity)")


@pytest.mark.parametrize(
    ("examples", "derandomize"),
    [pytest.param(300, True, id="short"), pytest.param(5000, False, id="full", marks=pytest.mark.slow)],
)
def test_fuzzed_form_validator_never_raises_and_names_every_problem(examples: int, derandomize: bool) -> None:
    @hypothesis_settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize)
    @given(customer=field_values, order_lines=st.one_of(lines, lines.map(tuple)), command_id=field_values)
    def check_form(customer: Any, order_lines: Any, command_id: Any) -> None:
        cmd = PlaceOrder(customer, order_lines, command_id)
        problems = validate(cmd)
        assert isinstance(problems, tuple) and all(isinstance(p, Problem) for p in problems)
        assert all(FIELD.fullmatch(p.field) and p.message.strip() for p in problems), problems
        try:
            valid = check(cmd)
        except InvalidOrder as refused:
            assert refused.problems == problems and problems
            return
        assert problems == ()
        event = valid.to_event("fuzz")
        assert contracts.decode(contracts.encode(event).value, contracts.encode(event).headers) == event
        assert event.payload.customer_id == typed_label(customer) and a_clerk_can_see(event.payload.customer_id)
        for line, typed_line in zip(event.payload.lines, cmd.lines, strict=True):
            price = typed_line.price
            expected = int(Decimal(price) * 100) if isinstance(price, Decimal) else typed_pence(price)
            assert line.unit_price_pence == expected
            assert line.quantity == int(typed_line.quantity)
            assert line.item == typed_label(typed_line.item) and a_clerk_can_see(line.item)

    check_form()
