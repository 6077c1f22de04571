"""One Settings object: environment (ORDER_DESK_*), then an optional TOML file, then defaults."""

from __future__ import annotations

import os
import re
import socket
import ssl
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "order-desk"
RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"
MAX_TOPIC_NAME = 249  # Kafka's limit
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]+", re.ASCII)


def check_topic_name(name: str) -> str:
    """The topic name, or ValueError with the reason: the one rule for an events topic name.

    Kafka's rule (1..249 characters of a-z, A-Z, 0-9, ".", "_", "-", and neither "." nor ".."), and no
    name starting with "__": those are Kafka's internal topics (__consumer_offsets, __transaction_state).
    """
    if not name:
        raise ValueError("a topic name is required")
    if len(name) > MAX_TOPIC_NAME:
        raise ValueError(f"at most {MAX_TOPIC_NAME} characters (this has {len(name)})")
    if not _TOPIC_NAME.fullmatch(name):
        raise ValueError(f"{name!r}: only letters a-z and A-Z, digits, '.', '_' and '-' are allowed")
    if name in (".", ".."):
        raise ValueError(f"{name!r} is not a valid topic name")
    if name.startswith("__"):
        raise ValueError(f"{name!r} is reserved for Kafka's internal topics (names starting with '__')")
    return name


def config_file_path() -> Path:
    """The optional TOML settings file: $ORDER_DESK_CONFIG, else the user config dir."""
    explicit = os.environ.get("ORDER_DESK_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDER_DESK_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)),
        description="Everything of one installation: broker data, outbox, read model, logs.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir(APP_NAME)),
        description="Where the Kafka jars are fetched to, once.",
    )
    bootstrap_servers: str = Field(
        default="", description="Existing Kafka cluster (host:port,...). Empty: run the embedded broker."
    )
    topic: str = "orders.events"
    partitions: int = Field(default=6, ge=1, le=1000)
    replication_factor: int = Field(default=1, ge=1, le=32)
    min_insync_replicas: int = Field(default=1, ge=1, le=32)
    client_id: str = Field(default_factory=lambda: f"order-desk@{socket.gethostname()}")

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    broker_heap: str = Field(default="512m", description="JVM heap of the embedded broker (-Xmx).")
    broker_start_timeout_s: float = 60.0
    projector_isolation: Literal["process", "thread"] = Field(
        default="process",
        description="Where the desktop window projects the read model: a child process (keeps the window "
                    "responsive during bursts, catch-ups and rebuilds) or a thread of its own process.",
    )

    @field_validator("topic", mode="after")
    @classmethod
    def _topic_name(cls, value: str) -> str:
        return check_topic_name(value)

    @field_validator("data_dir", "cache_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, toml)

    # -- derived -------------------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        return not self.bootstrap_servers.strip()

    @property
    def command_db_path(self) -> Path:
        return self.data_dir / "command.db"

    @property
    def readmodel_db_path(self) -> Path:
        return self.data_dir / "readmodel.db"

    @property
    def kafka_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def kafka_client_kwargs(self, bootstrap_servers: str | None = None) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client: address and security, nothing else."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers or self.bootstrap_servers,
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            kwargs["ssl_context"] = ssl.create_default_context(
                cafile=str(self.ssl_cafile) if self.ssl_cafile else None
            )
        if self.security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.sasl_mechanism or "PLAIN"
            kwargs["sasl_plain_username"] = self.sasl_plain_username
            kwargs["sasl_plain_password"] = (
                self.sasl_plain_password.get_secret_value() if self.sasl_plain_password else None
            )
        return kwargs

    def describe(self) -> dict[str, Any]:
        """A loggable view: the password never appears."""
        return self.model_dump(mode="json", exclude={"sasl_plain_password"}) | {
            "sasl_plain_password": "***" if self.sasl_plain_password else None
        }
