"""REST API for clusters: 201/400/403 with field messages, write-only credentials, check, OpenAPI schema."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clusters.models import Cluster
from tests.factories import ClusterFactory
from tests.tlsserver import TLSServer, kubernetes_routes

TOKEN = "api-token-xyz"
URL = "/api/v1/clusters/"


@pytest.fixture
def server():
    srv = TLSServer(kubernetes_routes(TOKEN))
    yield srv
    srv.stop()


def test_create_returns_the_cluster_checked_and_without_credentials(api, server):
    response = api.post(
        URL, {"name": "prod", "api_url": server.url, "ca_pem": server.ca_pem, "token": TOKEN}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "prod" and body["reachable"] is True and body["server_version"] == "v1.30.2"
    assert body["eviction_api_version"] == "policy/v1"
    assert "token" not in body and "credentials_secret" not in body
    assert TOKEN not in response.content.decode()


def test_create_with_bad_fields_is_a_400_naming_each_field(api):
    response = api.post(URL, {"name": "Bad!", "api_url": "http://x", "token": "", "ca_pem": "junk"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert {"api_url", "ca_pem", "token"} <= set(body)
    assert not Cluster.objects.exists()


def test_name_error_is_reported_after_connection_is_valid(api, server):
    response = api.post(
        URL, {"name": "Bad!", "api_url": server.url, "ca_pem": server.ca_pem, "token": TOKEN}, format="json"
    )
    assert response.status_code == 400 and "name" in response.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "api_url": "https://a.example", "token": "t", "surprise": 1}, "surprise"),
        ({"name": ["x"], "api_url": "https://a.example", "token": "t"}, "name"),
        ({"name": "x", "api_url": "https://a.example", "token": "t", "qps_limit": "fast"}, "qps_limit"),
        ({"name": "x", "api_url": "https://a.example", "token": "t", "qps_limit": 0}, "qps_limit"),
        ({"name": "x", "kubeconfig": "a: &x 1\nb: *x"}, "kubeconfig"),
        ({"name": "x", "kubeconfig": "clusters: []", "token": "t", "api_url": "https://a.example"}, "kubeconfig"),
    ],
)
def test_wrong_types_unknown_fields_and_conflicts_are_400s(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Cluster.objects.exists()


def test_non_json_body_is_a_400(api):
    response = api.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_non_admin_cannot_create_update_or_delete(viewer_api, server):
    cluster = ClusterFactory()
    assert viewer_api.post(URL, {"name": "x", "api_url": server.url, "token": "t"}, format="json").status_code == 403
    assert viewer_api.patch(f"{URL}{cluster.pk}/", {"qps_limit": 3}, format="json").status_code == 403
    assert viewer_api.delete(f"{URL}{cluster.pk}/").status_code == 403
    assert viewer_api.post(f"{URL}{cluster.pk}/check/").status_code == 403
    assert viewer_api.get(URL).status_code == 200


def test_patch_changes_fields_and_never_returns_the_token(api):
    cluster = ClusterFactory()
    response = api.patch(f"{URL}{cluster.pk}/", {"qps_limit": 4, "token": "brand-new"}, format="json")
    assert response.status_code == 200
    assert response.json()["qps_limit"] == 4 and "brand-new" not in response.content.decode()
    cluster.refresh_from_db()
    assert cluster.credentials.token == "brand-new"


def test_check_endpoint_reports_the_reason(api, server):
    cluster = ClusterFactory(api_url=server.url, ca_pem=server.ca_pem)  # factory token is not the server's
    response = api.post(f"{URL}{cluster.pk}/check/")
    assert response.status_code == 200
    assert response.json()["reachable"] is False and response.json()["error_kind"] == "unauthorized"


def test_delete_removes_the_cluster(api):
    cluster = ClusterFactory()
    assert api.delete(f"{URL}{cluster.pk}/").status_code == 204
    assert not Cluster.objects.exists()


def test_token_authentication_works_and_anonymous_is_refused(alice):
    key = Token.objects.create(user=alice).key
    client = APIClient()
    assert client.get(URL).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(URL).status_code == 200


def test_openapi_schema_and_docs_are_served(admin_client):
    schema = admin_client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/clusters/{id}/check/" in text
    assert admin_client.get("/api/docs/").status_code == 200


def test_deleting_a_cluster_with_requests_is_a_409_the_schema_documents(api, alice):
    from evictions.models import EvictionRequest

    cluster = ClusterFactory()
    EvictionRequest.objects.create(cluster=cluster, requester=alice, kind="drain", node="n", reason="r")
    response = api.delete(f"{URL}{cluster.pk}/")
    assert response.status_code == 409 and isinstance(response.json()["detail"], str)
    assert Cluster.objects.filter(pk=cluster.pk).exists()
    schema = api.get("/api/schema/?format=json").json()
    assert "409" in schema["paths"]["/api/v1/clusters/{id}/"]["delete"]["responses"]
