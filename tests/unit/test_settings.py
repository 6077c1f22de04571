from __future__ import annotations

import json
import re

from pathlib import Path

import pytest

from desktop_app.broker.jars import MissingPrerequisite, require_program
from desktop_app.settings import Settings


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDER_DESK_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("ORDER_DESK_PARTITIONS", "12")
    settings = Settings()
    assert settings.data_dir == (tmp_path / "d").resolve()
    assert settings.partitions == 12
    assert settings.topic == "orders.events"
    assert settings.embedded
    assert settings.command_db_path.parent == settings.readmodel_db_path.parent == settings.data_dir


def test_toml_file_is_read_and_env_wins(monkeypatch, tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('bootstrap_servers = "kafka1:9092"\ntopic = "shop.events"\n')
    monkeypatch.setenv("ORDER_DESK_CONFIG", str(config))
    monkeypatch.setenv("ORDER_DESK_TOPIC", "env.events")
    settings = Settings()
    assert settings.bootstrap_servers == "kafka1:9092" and not settings.embedded
    assert settings.topic == "env.events"


def test_password_never_appears_in_logged_settings():
    settings = Settings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                        sasl_plain_username="desk", sasl_plain_password="hunter2-secret")
    assert "hunter2-secret" not in str(settings.describe())
    assert "hunter2-secret" not in repr(settings)
    kwargs = settings.kafka_client_kwargs("k:9093")
    assert kwargs["sasl_plain_password"] == "hunter2-secret"
    assert kwargs["security_protocol"] == "SASL_SSL" and "ssl_context" in kwargs


def test_invalid_setting_is_rejected():
    with pytest.raises(ValueError):
        Settings(partitions=0)


@pytest.mark.parametrize("program,hint", [("java", "openjdk"), ("mvn", "maven")])
def test_missing_prerequisite_names_program_and_install_command(monkeypatch, tmp_path: Path, program, hint):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingPrerequisite) as error:
        require_program(program)
    assert f"'{program}' was not found" in str(error.value)
    assert hint in str(error.value)


@pytest.mark.parametrize("name", ["orders.events", "a", "A-Z_0.9", "x" * 249, "_private", "orders..v2"])
def test_a_kafka_topic_name_is_accepted(name: str) -> None:
    assert Settings(topic=name).topic == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("__consumer_offsets", "reserved for Kafka's internal topics"),
        ("__transaction_state", "reserved for Kafka's internal topics"),
        ("__anything", "reserved for Kafka's internal topics"),
        ("", "a topic name is required"),
        (".", "is not a valid topic name"),
        ("..", "is not a valid topic name"),
        ("x" * 250, "at most 249 characters (this has 250)"),
        ("orders events", "only letters a-z and A-Z, digits"),
        ("orders/events", "only letters a-z and A-Z, digits"),
        ("ordérs", "only letters a-z and A-Z, digits"),
        ("orders\n", "only letters a-z and A-Z, digits"),
    ],
)
def test_an_invalid_or_internal_topic_is_refused_from_every_source(monkeypatch, tmp_path, name: str, reason: str):
    with pytest.raises(ValueError, match=re.escape(reason)):
        Settings(topic=name)  # a command-line option
    monkeypatch.setenv("ORDER_DESK_TOPIC", name)
    with pytest.raises(ValueError, match=re.escape(reason)):
        Settings()  # the environment
    monkeypatch.delenv("ORDER_DESK_TOPIC")
    config = tmp_path / "settings.toml"
    config.write_text(f"topic = {json.dumps(name)}\n")
    monkeypatch.setenv("ORDER_DESK_CONFIG", str(config))
    with pytest.raises(ValueError, match=re.escape(reason)):
        Settings()  # the settings file


def test_the_cli_refuses_an_internal_topic_as_invalid_input_and_writes_nothing(tmp_path, capsys):
    from desktop_app import cli

    data_dir = tmp_path / "desk"
    code = cli.main([f"--data-dir={data_dir}", "--bootstrap-servers=127.0.0.1:9", "--topic=__consumer_offsets",
                     "place", "--customer=alice", "--item=Tea", "--price=3.50"])
    out, err = capsys.readouterr()
    assert code == cli.EXIT_INVALID
    assert (out, err.splitlines()) == ("", [
        "order-desk: invalid setting topic: '__consumer_offsets' is reserved for Kafka's internal topics"
        " (names starting with '__')"])
    assert not data_dir.exists()
