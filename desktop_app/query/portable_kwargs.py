"""Kafka client settings as a spawned child process can receive them: an ssl.SSLContext cannot be pickled,
so it crosses the pipe as its CA certificates and checks, and is rebuilt on the other side."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class _PortableSSL:
    """An ssl.SSLContext as a child process can rebuild it (contexts cannot be pickled)."""

    cadata: bytes
    check_hostname: bool
    verify_mode: ssl.VerifyMode

    @classmethod
    def of(cls, context: ssl.SSLContext) -> _PortableSSL:
        der = b"".join(context.get_ca_certs(binary_form=True))
        return cls(der, context.check_hostname, context.verify_mode)

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.cadata:
            context.load_verify_locations(cadata=self.cadata)
        context.check_hostname = self.check_hostname
        context.verify_mode = self.verify_mode
        return context


def portable_client_kwargs(client_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    portable = dict(client_kwargs)
    if isinstance(portable.get("ssl_context"), ssl.SSLContext):
        portable["ssl_context"] = _PortableSSL.of(portable["ssl_context"])
    return portable


def restored_client_kwargs(portable: Mapping[str, Any]) -> dict[str, Any]:
    client_kwargs = dict(portable)
    if isinstance(client_kwargs.get("ssl_context"), _PortableSSL):
        client_kwargs["ssl_context"] = client_kwargs["ssl_context"].context()
    return client_kwargs
