"""A real Kafka node whose only client listener is SASL_SSL with SCRAM-SHA-512, for security tests.

The test generates its own certificate authority and a broker certificate for 127.0.0.1 (with the
`cryptography` package); the broker reads them as a PEM keystore. SCRAM users are created when the
storage is formatted (`--add-scram`), as for a real KRaft cluster before its first start.

    broker = SecureBroker(tmp_path / "secure", libs_dir, "order-desk", "s3cret")
    asyncio.run(broker.node.start())
    settings = broker.settings(tmp_path / "desk", "orders")   # SASL_SSL, SCRAM-SHA-512, the CA file
    ...
    broker.node.kill()
"""

from __future__ import annotations

import ipaddress
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from desktop_app.broker.embedded import BrokerIdentity
from desktop_app.settings import Settings
from support.cluster import KafkaNode, distinct_free_ports, kafka_uuid

SCRAM = "SCRAM-SHA-512"
BROKER_USER = "broker"  # the node's own identity on its SASL_SSL listener (inter-broker)


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path  # the certificate authority, PEM: what clients trust (Settings.ssl_cafile)
    keystore_file: Path  # the broker's private key (PKCS#8) and certificate chain, PEM


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_tls_files(folder: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A throwaway CA and a broker certificate for `host` (an IP address), valid for a day."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Order Desk test CA")).issuer_name(_name("Order Desk test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host)).issuer_name(ca_cert.subject)
        .public_key(broker_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = TlsFiles(folder / "ca.pem", folder / "broker-keystore.pem")
    files.ca_file.write_bytes(ca_cert.public_bytes(pem))
    files.keystore_file.write_bytes(
        broker_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + broker_cert.public_bytes(pem)
        + ca_cert.public_bytes(pem)
    )
    return files


def scram_client_kwargs(bootstrap_servers: str, tls: TlsFiles, username: str, password: str) -> dict[str, object]:
    """aiokafka client arguments for the secured listener."""
    return {
        "bootstrap_servers": bootstrap_servers,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": SCRAM,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "ssl_context": ssl.create_default_context(cafile=str(tls.ca_file)),
    }


def secure_node(root: Path, libs_dir: Path, tls: TlsFiles, users: Mapping[str, str]) -> KafkaNode:
    """A single KRaft node: SASL_SSL (SCRAM-SHA-512) for clients and itself; `users` exist from the start."""
    port, controller_port = distinct_free_ports(2)
    identity = BrokerIdentity(port=port, controller_port=controller_port, cluster_id=kafka_uuid())
    broker_password = secrets.token_urlsafe(16)
    overrides = {
        "listeners": f"SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_SSL://127.0.0.1:{port}",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": SCRAM,
        "sasl.mechanism.inter.broker.protocol": SCRAM,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER_USER}" password="{broker_password}";'
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.keystore_file),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.ca_file),
        "ssl.client.auth": "none",
    }
    scram_users = {BROKER_USER: broker_password, **users}
    format_args = ["--standalone"]
    for name, password in scram_users.items():
        format_args += ["--add-scram", f"{SCRAM}=[name={name},password={password}]"]
    any_user, any_password = next(iter(users.items()))
    return KafkaNode(
        root, libs_dir, identity, overrides=overrides, format_args=format_args, heap="256m",
        probe_kwargs={k: v for k, v in scram_client_kwargs("", tls, any_user, any_password).items()
                      if k != "bootstrap_servers"},
        start_timeout_s=120.0,
    )


class SecureBroker:
    """A secured node with one application user, and the Settings a desk needs to use it."""

    def __init__(self, root: Path, libs_dir: Path, username: str, password: str) -> None:
        self.tls = make_tls_files(root / "tls")
        self.username, self.password = username, password
        self.node = secure_node(root / "node", libs_dir, self.tls, users={username: password})

    @property
    def bootstrap_servers(self) -> str:
        return self.node.bootstrap_servers

    def settings(self, data_dir: Path, topic: str, *, password: str | None = None) -> Settings:
        return Settings(
            data_dir=data_dir, bootstrap_servers=self.bootstrap_servers, topic=topic, partitions=3,
            security_protocol="SASL_SSL", sasl_mechanism=SCRAM, sasl_plain_username=self.username,
            sasl_plain_password=self.password if password is None else password, ssl_cafile=self.tls.ca_file,
        )
