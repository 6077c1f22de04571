"""SASL_SSL: Order Desk on a broker that only speaks TLS with SCRAM-SHA-512 logins, as IT runs Kafka.

Promises tested: with the right settings (security protocol, SCRAM user and password, the CA file) the
desk works end to end; a wrong password or a plaintext client fails quickly, says why, and writes nothing.
The broker's certificate authority and certificate are made by the test; its SCRAM users exist from the
format step on.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app.bootstrap import DeskRuntime
from desktop_app.broker.topics import ensure_topic, probe_metadata
from desktop_app.command.model import LineInput, PlaceOrder
from support.log_audit import end_offsets, read_log
from support.order_stream import unique_topic

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_BOUND_S = 90.0  # a CLI call that takes longer than this is a hang
WAIT_S = 60.0


def cli_env(settings) -> dict[str, str]:
    """The environment that configures `order-desk` for these settings (as IT would set it)."""
    env = dict(os.environ)
    env.update({
        "ORDER_DESK_DATA_DIR": str(settings.data_dir),
        "ORDER_DESK_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "ORDER_DESK_TOPIC": settings.topic,
        "ORDER_DESK_PARTITIONS": str(settings.partitions),
        "ORDER_DESK_SECURITY_PROTOCOL": settings.security_protocol,
    })
    optional = {
        "ORDER_DESK_SASL_MECHANISM": settings.sasl_mechanism,
        "ORDER_DESK_SASL_PLAIN_USERNAME": settings.sasl_plain_username,
        "ORDER_DESK_SASL_PLAIN_PASSWORD": (
            settings.sasl_plain_password.get_secret_value() if settings.sasl_plain_password else None),
        "ORDER_DESK_SSL_CAFILE": str(settings.ssl_cafile) if settings.ssl_cafile else None,
    }
    for name, value in optional.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def order_desk(settings, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `python -m desktop_app ARGS` configured by environment; (result, seconds taken). Fails on a hang."""
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", "desktop_app", *args], cwd=REPO_ROOT, env=cli_env(settings),
                                capture_output=True, text=True, timeout=CLI_BOUND_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"order-desk {' '.join(args)} hung for more than {CLI_BOUND_S:.0f}s")
    return result, time.monotonic() - started


def create_topic(settings) -> None:
    asyncio.run(ensure_topic(settings.kafka_client_kwargs(), settings.topic, settings.partitions, 1, 1))


def test_right_credentials_work_end_to_end(secure_broker, tmp_path: Path) -> None:
    settings = secure_broker.settings(tmp_path / "desk", unique_topic())
    create_topic(settings)

    async def scenario():
        runtime = DeskRuntime(settings)
        await runtime.start()
        try:
            cmd = PlaceOrder("alice", (LineInput("Tea", "3.50", "2"), LineInput("Kettle", "64.99", "1")))
            await runtime.command.place_order(cmd)
            receipt = await runtime.command.wait_published(cmd.command_id, WAIT_S)
            visible = await asyncio.to_thread(runtime.query.wait_until_visible, receipt.partition, receipt.offset,
                                              WAIT_S)
            return receipt, visible, runtime.query.items(customer="alice")
        finally:
            await runtime.stop()

    receipt, visible, rows = asyncio.run(scenario())
    assert receipt.status == "published" and visible
    assert sorted((r.item, r.unit_price_pence, r.quantity, r.band.value) for r in rows) == [
        ("Kettle", 6499, 1, "expensive"), ("Tea", 350, 2, "cheap")]

    placed, _ = order_desk(settings, "place", "--customer", "bob", "--item", "Mug", "--price", "4.50", "--wait",
                           "--json")
    assert placed.returncode == 0, placed.stderr
    assert json.loads(placed.stdout)["status"] == "visible"
    listed, _ = order_desk(settings, "items", "--customer", "bob", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(row["item"], row["unit_price"], row["quantity"]) for row in json.loads(listed.stdout)] == [
        ("Mug", "4.50", 1)]
    log = asyncio.run(read_log(settings.kafka_client_kwargs(), settings.topic))
    assert sorted(r.event.payload.customer_id for r in log) == ["alice", "bob"]


def test_a_wrong_password_fails_and_writes_nothing(secure_broker, tmp_path: Path) -> None:
    good = secure_broker.settings(tmp_path / "good", unique_topic())
    create_topic(good)
    wrong = secure_broker.settings(tmp_path / "desk", good.topic, password="not the password")

    placed, _ = order_desk(wrong, "place", "--customer", "mallory", "--item", "Tea", "--price", "1.00",
                           "--wait", "--timeout", "5")
    summary, _ = order_desk(wrong, "summary")

    assert placed.returncode == 3, placed.stderr  # not published: the broker refused the login
    assert "not published yet" in placed.stderr
    assert summary.returncode == 3 and summary.stderr.strip(), summary.stderr
    assert sum(end_offsets(good.kafka_client_kwargs(), good.topic).values()) == 0, "a refused login wrote records"


def test_a_wrong_password_is_reported_as_an_authentication_failure(secure_broker, tmp_path: Path) -> None:
    good = secure_broker.settings(tmp_path / "good", unique_topic())
    create_topic(good)
    wrong = secure_broker.settings(tmp_path / "desk", good.topic, password="not the password")

    summary, _ = order_desk(wrong, "summary")
    placed, _ = order_desk(wrong, "place", "--customer", "mallory", "--item", "Tea", "--price", "1.00",
                           "--wait", "--timeout", "5")

    for result in (summary, placed):
        assert "authentication" in result.stderr.lower(), result.stderr


def test_the_desk_status_names_a_refused_login(secure_broker, tmp_path: Path) -> None:
    good = secure_broker.settings(tmp_path / "good", unique_topic())
    create_topic(good)
    wrong = secure_broker.settings(tmp_path / "desk", good.topic, password="not the password")

    async def scenario() -> tuple[str | None, str | None]:
        runtime = DeskRuntime(wrong)
        await runtime.start()
        try:
            await runtime.command.place_order(PlaceOrder("mallory", (LineInput("Tea", "1.00", "1"),)))
            deadline = time.monotonic() + WAIT_S
            while not (runtime.command.last_error and runtime.query.projector_error):
                assert time.monotonic() < deadline, "no error reported at all"
                await asyncio.sleep(0.1)
            return runtime.command.last_error, runtime.query.projector_error
        finally:
            await runtime.stop()

    relay_error, projector_error = asyncio.run(scenario())
    assert "authentication" in relay_error.lower(), relay_error
    assert "authentication" in projector_error.lower(), projector_error


def test_a_plaintext_client_at_the_tls_port_fails_fast_and_says_so(secure_broker, tmp_path: Path) -> None:
    secure = secure_broker.settings(tmp_path / "good", unique_topic())
    create_topic(secure)
    plaintext = secure.model_copy(update={
        "data_dir": tmp_path / "desk", "security_protocol": "PLAINTEXT", "sasl_mechanism": None,
        "sasl_plain_username": None, "sasl_plain_password": None, "ssl_cafile": None,
    })

    async def probe() -> BaseException:
        try:
            await asyncio.wait_for(probe_metadata(plaintext.kafka_client_kwargs(), timeout_ms=5000), WAIT_S)
        except TimeoutError as exc:
            pytest.fail(f"a plaintext client hung on the TLS port: {exc!r}")
        except Exception as exc:  # noqa: BLE001 - the failure is what this test wants
            return exc
        pytest.fail("a plaintext client talked to the SASL_SSL listener")

    failure = asyncio.run(probe())
    summary, _ = order_desk(plaintext, "summary")
    placed, _ = order_desk(plaintext, "place", "--customer", "eve", "--item", "Tea", "--price", "1.00",
                           "--wait", "--timeout", "5")

    assert "bootstrap" in str(failure).lower() or "connect" in str(failure).lower(), repr(failure)
    assert summary.returncode == 3
    assert f"cannot use the Kafka cluster at {plaintext.bootstrap_servers}" in summary.stderr, summary.stderr
    assert "security_protocol" in summary.stderr  # says what to check
    assert placed.returncode == 3 and "not published yet" in placed.stderr, placed.stderr
    assert sum(end_offsets(secure.kafka_client_kwargs(), secure.topic).values()) == 0
