"""The decode benchmark compares like with like: both contracts read its records as the same events."""

from __future__ import annotations

import pytest

from bench import decode, pydantic_contract
from desktop_app import contracts


def test_the_records_are_about_512_bytes_and_a_realistic_mix() -> None:
    sets = decode.record_sets(300)
    assert all(480 <= len(value) <= 544 for _key, value, _headers in sets["about 512 bytes"])
    mix = sets["mix, 5% cancelled"]
    kinds = {dict(headers)["event_type"] for _key, _value, headers in mix}
    assert (len(sets["about 512 bytes"]), len(mix), kinds) == (300, 300, {b"OrderPlaced", b"OrderCancelled"})


def test_both_contracts_read_every_record_as_the_same_event() -> None:
    for records in decode.record_sets(300).values():
        decode.check_same_events(records)
        for _key, value, headers in records:
            assert contracts.event_json(contracts.decode(value, headers)) == value
            assert pydantic_contract.event_json(pydantic_contract.decode(value, headers)) == value


def test_a_record_the_contracts_read_differently_stops_the_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    records = decode.record_sets(5)["mix, 5% cancelled"]
    real = pydantic_contract.content_digest
    monkeypatch.setattr(pydantic_contract, "content_digest", lambda event: real(  # the before reads another source
        event.model_copy(update={"source": "elsewhere"})))
    with pytest.raises(AssertionError, match="the contracts differ"):
        decode.check_same_events(records)


def test_the_report_has_a_row_per_decoder_and_set_with_the_ratios() -> None:
    timings = decode.run(50, repeats=1)
    table = decode.report(timings).splitlines()
    assert len(table) == 2 + len(timings) * len(decode.DECODERS)
    assert sum(line.rstrip(" |").endswith("×") for line in table) == len(timings) * len(decode.PAIRS)
