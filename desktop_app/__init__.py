"""Order Desk: CQRS and event sourcing on Apache Kafka for a retail store."""

__version__ = "0.1.0"
