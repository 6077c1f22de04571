"""The embedded real Apache Kafka broker: jars, process, readiness, topic provisioning."""

from desktop_app.broker.embedded import BrokerError, EmbeddedBroker
from desktop_app.broker.jars import MissingPrerequisite, ensure_jars

__all__ = ["BrokerError", "EmbeddedBroker", "MissingPrerequisite", "ensure_jars"]
