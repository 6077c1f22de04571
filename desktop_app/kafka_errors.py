"""Why a Kafka cluster cannot be used, in words a person can act on.

aiokafka reports every failed bootstrap as "Unable to bootstrap from [...]" and only logs the cause.
`explain_unreachable` connects to each bootstrap server directly and names the first specific failure:
a refused login, a failed TLS handshake, a refused connection or a silent port.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka.errors import AuthenticationFailedError, KafkaConnectionError, KafkaError, SaslAuthenticationFailed

from desktop_app.kafka_internals import open_connection

_CONNECTION_KEYS = ("client_id", "ssl_context", "security_protocol", "sasl_mechanism",
                    "sasl_plain_username", "sasl_plain_password")


async def explain_unreachable(client_kwargs: dict[str, Any], timeout_s: float = 5.0) -> str:
    servers = [s.strip() for s in str(client_kwargs.get("bootstrap_servers", "")).split(",") if s.strip()]
    if not servers:
        return "no bootstrap servers are configured"
    options = {key: client_kwargs[key] for key in _CONNECTION_KEYS if key in client_kwargs}
    reasons = []
    for server in servers:
        host, _, port = server.rpartition(":")
        reason = await _try_server(host or server, int(port or 9092), options, timeout_s)
        if reason is None:
            return f"{server} accepts connections now; the failure was transient"
        if reason.startswith("authentication failed") or reason.startswith("TLS"):
            return reason
        reasons.append(reason if len(servers) == 1 else f"{server}: {reason}")
    return "; ".join(reasons)


async def _try_server(host: str, port: int, options: dict[str, Any], timeout_s: float) -> str | None:
    try:
        connection = await asyncio.wait_for(
            open_connection(host, port, request_timeout_ms=int(timeout_s * 1000), **options), timeout_s
        )
    except (SaslAuthenticationFailed, AuthenticationFailedError) as exc:
        user = options.get("sasl_plain_username")
        mechanism = options.get("sasl_mechanism")
        return f"authentication failed for user {user!r} with {mechanism}: check the password ({exc})"
    except ssl.SSLCertVerificationError as exc:
        return f"TLS certificate of {host}:{port} not trusted: {exc.verify_message} (check ssl_cafile)"
    except ssl.SSLError as exc:
        return f"TLS handshake with {host}:{port} failed: {exc.reason or exc}"
    except asyncio.TimeoutError:
        return f"no answer within {timeout_s:.0f} s (wrong port, or a TLS listener spoken to without TLS?)"
    except ConnectionRefusedError:
        return "connection refused (is Kafka running there?)"
    except KafkaConnectionError as exc:
        return f"the broker closed the connection ({exc}); is security_protocol right for this port?"
    except (OSError, KafkaError) as exc:
        return f"{type(exc).__name__}: {exc}"
    connection.close()
    return None
