"""One record of the log as support staff read it: its exact bytes, its value pretty-printed, its headers.

Read from the log, not from the read model (QueryService.raw_event, through log_reader): the view keeps
what it took from an event, the log keeps the event itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from desktop_app.query.log_reader import LogRecord

FROM_LOG = "log"


def _text(data: bytes | None) -> str:
    """Bytes as text, exactly when they are UTF-8; other bytes shown as \\x escapes (nothing dropped)."""
    return "" if data is None else data.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True, slots=True)
class RawEvent:
    record: LogRecord
    source: str = FROM_LOG

    @property
    def value(self) -> bytes | None:
        """The record's value, byte for byte as the broker holds it."""
        return self.record.value

    @property
    def exact_text(self) -> str:
        """The value as text: for a UTF-8 value (every event), encoding it again gives the record's bytes."""
        return _text(self.record.value)

    @property
    def pretty_value(self) -> str:
        """The value as indented JSON, keys in their order; the exact text when it is not JSON."""
        if self.record.value is None:
            return "(no value)"
        try:
            parsed = json.loads(self.record.value)
        except (UnicodeDecodeError, ValueError):
            return self.exact_text
        return json.dumps(parsed, indent=2, ensure_ascii=False)

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [(name, _text(value)) for name, value in self.record.headers]

    @property
    def key_text(self) -> str:
        return _text(self.record.key)

    @property
    def time(self) -> datetime:
        """The record's own timestamp (aware, UTC), which may differ from the event's occurred_at."""
        return self.record.time

    def describe(self) -> str:
        """Where it was read, in one line."""
        return f"{self.record.topic}, partition {self.record.partition}, offset {self.record.offset}"


__all__ = ["FROM_LOG", "RawEvent"]
