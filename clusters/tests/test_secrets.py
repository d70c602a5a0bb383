"""No cluster token or kubeconfig secret appears in plaintext in the database, the logs, a page or an API answer."""

from __future__ import annotations

import base64
import logging

import pytest
from django.core.management import call_command
from django.db import connection

from tests.tlsserver import TLSServer, json_route, key_pem, kubeconfig_for, kubernetes_routes, make_ca, make_leaf, pem

TOKEN = "SuperSecretToken-4f1c9a7e"


def _kubeconfig(server: TLSServer, user: dict, context: str) -> str:
    return kubeconfig_for(server, user, context)


def _all_database_text() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_secrets_never_appear_in_plaintext(alice, admin_client, api, caplog, capsys, tmp_path, settings):
    caplog.set_level(logging.DEBUG)
    server = TLSServer(kubernetes_routes(TOKEN))
    ca_key, ca_cert = make_ca("client-ca")
    user_key, user_cert = make_leaf(ca_key, ca_cert, dns=["robot"], ips=[])
    cert_server = TLSServer(
        {
            "/version": json_route(200, {"gitVersion": "v1.31.0"}),
            "/api/v1": json_route(200, {"resources": []}),
            "/apis": json_route(200, {"groups": []}),
        },
        client_ca_pem=pem(ca_cert),
    )
    key_text = key_pem(user_key)
    key_needle = key_text.splitlines()[1]  # a line of the private key's base64 body
    secrets = [TOKEN, key_needle, base64.b64encode(key_text.encode()).decode()[:40]]
    try:
        # 1. the form (token), 2. the API (token), 3. the import command (client certificate kubeconfig)
        admin_client.post(
            "/clusters/add/",
            {
                "name": "form",
                "source": "token",
                "api_url": server.url,
                "ca_pem": server.ca_pem,
                "token": TOKEN,
                "qps_limit": 10,
            },
        )
        api.post(
            "/api/v1/clusters/",
            {"name": "api", "kubeconfig": _kubeconfig(server, {"token": TOKEN}, "api")},
            format="json",
        )
        path = tmp_path / "kubeconfig"
        path.write_text(
            _kubeconfig(
                cert_server,
                {
                    "client-certificate-data": base64.b64encode(pem(user_cert).encode()).decode(),
                    "client-key-data": base64.b64encode(key_text.encode()).decode(),
                },
                "cert",
            )
        )
        call_command("cluster_import", "--kubeconfig", str(path))
        # A failing check logs and records its error: the secret must not be in it either.
        api.post("/api/v1/clusters/", {"name": "bad", "api_url": "https://127.0.0.1:1", "token": TOKEN}, format="json")

        from clusters.models import Cluster

        assert Cluster.objects.get(name="form").reachable is True
        assert Cluster.objects.get(name="api").reachable is True
        assert Cluster.objects.get(name="cert").reachable is True  # the key really was used

        answers = []
        for cluster in Cluster.objects.all():
            for url in (f"/clusters/{cluster.pk}/", f"/clusters/{cluster.pk}/edit/", f"/api/v1/clusters/{cluster.pk}/"):
                answers.append(admin_client.get(url).content.decode())
            answers.append(api.post(f"/api/v1/clusters/{cluster.pk}/check/").content.decode())
        for url in ("/", "/clusters/", "/audit/", "/api/v1/clusters/", "/api/schema/"):
            answers.append(admin_client.get(url).content.decode())

        database = _all_database_text()
        output = capsys.readouterr()
        logs = caplog.text + output.out + output.err
        for secret in secrets:
            assert secret not in database, "a secret is stored in plaintext"
            assert secret not in logs, "a secret was logged"
            for answer in answers:
                assert secret not in answer, "a secret was rendered or returned"
        assert "gAAAAA" in database  # the credentials are there, as Fernet tokens
    finally:
        server.stop()
        cert_server.stop()
