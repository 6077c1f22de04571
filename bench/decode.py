"""Decoding one event, before and after msgspec: `python -m bench.decode [--events N] [--repeats R]`.

Times, in one run on the same records, the contract's `decode(value, headers)` (msgspec) against the
pydantic contract it replaced (`bench.pydantic_contract`, the same-run baseline), each alone and followed
by `content_digest` (what the projector does per event), with `json.loads` of the same bytes as a floor.
Two sets of records from the benchmarks' generator: the events of 480-544 bytes (about 512), and the
realistic mix (1-5 lines, 5 % cancellations). No broker, no database.

Each repetition times every decoder over the whole set, in turn, so that load on a shared machine falls on
all of them alike; the report gives the best repetition (µs per event) and the ratio baseline ÷ msgspec.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench import pydantic_contract
from bench.events import OrderGenerator, Record
from desktop_app import contracts

Decoder = Callable[[bytes, Sequence[tuple[str, bytes]]], object]


def _with_digest(decode: Callable[..., object], digest: Callable[[object], bytes]) -> Decoder:
    return lambda value, headers: digest(decode(value, headers))


DECODERS: dict[str, Decoder] = {
    "json.loads (floor)": lambda value, headers: json.loads(value),
    "pydantic decode (before)": pydantic_contract.decode,
    "msgspec decode (now)": contracts.decode,
    "pydantic decode + digest (before)": _with_digest(pydantic_contract.decode, pydantic_contract.content_digest),
    "msgspec decode + digest (now)": _with_digest(contracts.decode, contracts.content_digest),
}
PAIRS = [("pydantic decode (before)", "msgspec decode (now)"),
         ("pydantic decode + digest (before)", "msgspec decode + digest (now)")]


@dataclass(frozen=True, slots=True)
class Timing:
    records: str
    mean_bytes: float
    micros: dict[str, float]  # decoder -> best µs per event

    def ratio(self, before: str, now: str) -> float:
        return self.micros[before] / self.micros[now]


def record_sets(count: int) -> dict[str, list[Record]]:
    """`count` records of about 512 bytes, and `count` of the realistic mix."""
    mixed = list(OrderGenerator(7).event_records(count, cancel_share=0.05))
    sized: list[Record] = []
    for record in OrderGenerator(8).event_records(count * 20):
        if 480 <= len(record[1]) <= 544:
            sized.append(record)
            if len(sized) == count:
                break
    return {"about 512 bytes": sized, "mix, 5% cancelled": mixed}


def time_decoders(records: list[Record], repeats: int) -> dict[str, float]:
    """Best µs per event of each decoder over the records; the decoders take turns within each repetition."""
    best = {name: float("inf") for name in DECODERS}
    for _ in range(repeats):
        for name, decode in DECODERS.items():
            started = time.perf_counter()
            for _key, value, headers in records:
                decode(value, headers)
            elapsed = time.perf_counter() - started
            best[name] = min(best[name], elapsed / len(records) * 1e6)
    return best


def check_same_events(records: list[Record]) -> None:
    """Both contracts read every record as the same event, with the same digest: the timings compare like work."""
    for _key, value, headers in records:
        before, now = pydantic_contract.decode(value, headers), contracts.decode(value, headers)
        if pydantic_contract.content_digest(before) != contracts.content_digest(now):
            raise AssertionError(f"the contracts differ on {value!r}")


def run(count: int, repeats: int) -> list[Timing]:
    timings = []
    for label, records in record_sets(count).items():
        check_same_events(records)
        mean = statistics.fmean(len(value) for _key, value, _headers in records)
        timings.append(Timing(label, mean, time_decoders(records, repeats)))
    return timings


def report(timings: list[Timing]) -> str:
    lines = ["| records | decoder | µs per event | before ÷ now |", "|---|---|---|---|"]
    for timing in timings:
        ratios = {now: timing.ratio(before, now) for before, now in PAIRS}
        for name, micros in timing.micros.items():
            ratio = f"{ratios[name]:.1f}×" if name in ratios else ""
            lines.append(f"| {timing.records} ({timing.mean_bytes:.0f} B) | {name} | {micros:.2f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="records per set (default 20,000)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions; the best counts (default 5)")
    args = parser.parse_args(argv)
    print(report(run(args.events, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
