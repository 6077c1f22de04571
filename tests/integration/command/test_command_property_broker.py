"""Property, end to end: arbitrary text in every field of a batch of orders. Each order is refused with
messages (and nothing reaches Kafka), or exactly one event reaches the topic and decodes to the values
typed. No exception escapes."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.command.model import InvalidOrder, LineInput, PlaceOrder, validate
from desktop_app.command.relay import RelayOptions
from desktop_app.command.service import CommandService
from desktop_app.settings import Settings

from command_topic import WAIT_S, read_topic

ODD = ["", " ", "\x00", "\n", "\udcff", "£", "NaN", "inf", "1e3", "-1", "1,000.00", "4.999", "0"]
text = st.one_of(st.text(max_size=20), st.text(min_size=60, max_size=130), st.sampled_from(ODD))
words = st.from_regex(r"\s?[A-Za-z0-9À-ÿ][A-Za-z0-9À-ÿ ]{0,15}\s?", fullmatch=True)
arbitrary_lines = st.builds(
    LineInput,
    item=st.one_of(words, text),
    price=st.one_of(st.from_regex(r"£?[0-9]{1,7}(\.[0-9]{1,3})?", fullmatch=True), text),
    quantity=st.one_of(st.integers(min_value=-1, max_value=10_001), text),
)
plausible_lines = st.builds(  # mostly valid, so that many orders go all the way to the topic
    LineInput,
    item=words,
    price=st.from_regex(r"\s?£?[0-9]{1,6}(\.[0-9]{1,2})?", fullmatch=True),
    quantity=st.one_of(st.integers(min_value=1, max_value=10_000), st.from_regex(r"[0-9]{1,4}", fullmatch=True)),
)
orders = st.one_of(
    st.builds(PlaceOrder, customer_id=st.one_of(words, text),
              lines=st.lists(arbitrary_lines, max_size=3).map(tuple), command_id=st.just("set-below")),
    st.builds(PlaceOrder, customer_id=words,
              lines=st.lists(plausible_lines, min_size=1, max_size=3).map(tuple), command_id=st.just("set-below")),
)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(orders, min_size=1, max_size=25))
def test_each_order_is_refused_or_is_exactly_one_faithful_event_in_the_topic(
    topic_ready: Settings, batch: list[PlaceOrder]
) -> None:
    run = uuid.uuid4().hex  # the topic is shared by the examples: each example has its own command ids
    batch = [dataclasses.replace(cmd, command_id=f"{run}-{n}") for n, cmd in enumerate(batch)]

    async def place_all():
        accepted, refused = {}, {}
        async with CommandService(topic_ready.command_db_path, topic_ready.kafka_client_kwargs(),
                                  topic_ready.topic, "property-test",
                                  relay_options=RelayOptions(backoff_max_s=1.0)) as desk:
            for cmd in batch:
                try:
                    accepted[cmd.command_id] = await desk.place_order(cmd)
                except InvalidOrder as exc:
                    refused[cmd.command_id] = exc.problems
            for command_id in accepted:
                await desk.wait_published(command_id, WAIT_S)
        return accepted, refused, await read_topic(topic_ready.kafka_client_kwargs(), topic_ready.topic)

    accepted, refused, logged = asyncio.run(place_all())
    ours = [e for e in logged if e.event.payload.command_id.startswith(f"{run}-")]
    assert sorted(e.event.payload.command_id for e in ours) == sorted(accepted)
    for cmd in batch:
        if cmd.command_id in refused:
            assert refused[cmd.command_id] == validate(cmd) != ()
            assert all(p.message for p in refused[cmd.command_id])
            continue
        (entry,) = [e for e in ours if e.event.payload.command_id == cmd.command_id]
        assert entry.event.event_id == accepted[cmd.command_id].event_id
        assert entry.key == cmd.customer_id.strip().encode("utf-8")
        assert entry.event.payload.customer_id == cmd.customer_id.strip()
        assert [(ln.item, ln.unit_price_pence, ln.quantity) for ln in entry.event.payload.lines] == [
            (typed.item.strip(),
             Decimal(str(typed.price).strip().removeprefix("£").strip()) * 100,
             typed.quantity if isinstance(typed.quantity, int) else int(typed.quantity.strip()))
            for typed in cmd.lines
        ]
