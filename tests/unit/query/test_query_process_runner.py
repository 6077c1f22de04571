"""What the projector process's parent sends its child: client arguments survive pickling, TLS included."""

from __future__ import annotations

import pickle
import ssl

from support.secure_broker import make_tls_files

from desktop_app.query.portable_kwargs import portable_client_kwargs, restored_client_kwargs
from desktop_app.settings import Settings


def test_a_tls_context_reaches_the_child_with_the_same_trust(tmp_path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    settings = Settings(data_dir=tmp_path / "data", bootstrap_servers="127.0.0.1:9093", security_protocol="SASL_SSL",
                        sasl_mechanism="SCRAM-SHA-256", sasl_plain_username="desk", sasl_plain_password="s3cret",
                        ssl_cafile=tls.ca_file)
    original = settings.kafka_client_kwargs()

    restored = restored_client_kwargs(pickle.loads(pickle.dumps(portable_client_kwargs(original))))

    context = restored.pop("ssl_context")
    assert restored == {k: v for k, v in original.items() if k != "ssl_context"}
    assert isinstance(context, ssl.SSLContext)
    test_ca = ssl.PEM_cert_to_DER_cert(tls.ca_file.read_text())
    assert test_ca in context.get_ca_certs(binary_form=True)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_plain_arguments_pass_unchanged() -> None:
    kwargs = {"bootstrap_servers": "127.0.0.1:9092", "client_id": "desk", "security_protocol": "PLAINTEXT"}
    assert restored_client_kwargs(pickle.loads(pickle.dumps(portable_client_kwargs(kwargs)))) == kwargs
