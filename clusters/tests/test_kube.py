"""Connectivity checks over real HTTPS with a private CA: every way a cluster can fail gets its own words."""

from __future__ import annotations

import socket

import pytest

from clusters import kube
from clusters.models import Credentials
from tests.tlsserver import (
    APIS,
    CORE_V1,
    TLSServer,
    json_route,
    key_pem,
    kubernetes_routes,
    make_ca,
    make_leaf,
    pem,
    slow_route,
)

TOKEN = "good-token"


@pytest.fixture
def server():
    srv = TLSServer(kubernetes_routes(TOKEN))
    yield srv
    srv.stop()


def endpoint(srv: TLSServer, *, token: str = TOKEN, ca: str | None = None, url: str | None = None) -> kube.Endpoint:
    return kube.Endpoint(url or srv.url, srv.ca_pem if ca is None else ca, Credentials(token=token))


def test_reachable_cluster_reports_version_and_eviction_api(server):
    result = kube.check_connectivity(endpoint(server))
    assert result == kube.Connectivity(True, "v1.30.2", "policy/v1")
    auth = [{k.lower(): v for k, v in headers.items()}.get("authorization") for _, _, headers in server.requests]
    assert auth == [f"Bearer {TOKEN}"] * 3


def test_wrong_token_is_unauthorized(server):
    result = kube.check_connectivity(endpoint(server, token="stale"))
    assert not result.reachable
    assert result.error_kind == "unauthorized"
    assert "401" in result.error and "rejected the credentials" in result.error


def test_rbac_refusal_is_forbidden(server):
    server.routes["/api/v1"] = json_route(
        403, {"kind": "Status", "message": 'User "ci" cannot get path "/api/v1"', "reason": "Forbidden", "code": 403}
    )
    result = kube.check_connectivity(endpoint(server))
    assert result.error_kind == "forbidden"
    assert 'User "ci" cannot get path' in result.error and "RBAC" in result.error


def test_unknown_ca_is_a_tls_failure(server):
    _, other_ca = make_ca("someone-else")
    result = kube.check_connectivity(endpoint(server, ca=pem(other_ca)))
    assert result.error_kind == "tls"
    assert "TLS verification failed" in result.error and "CA bundle" in result.error


def test_certificate_for_another_host_is_a_tls_failure():
    srv = TLSServer(kubernetes_routes(TOKEN), dns=["other.example"], ips=["10.9.9.9"])
    try:
        result = kube.check_connectivity(endpoint(srv))
    finally:
        srv.stop()
    assert result.error_kind == "tls"
    assert "TLS verification failed" in result.error


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_nothing_listening_is_connection_refused(server):
    result = kube.check_connectivity(endpoint(server, url=f"https://127.0.0.1:{_closed_port()}"))
    assert result.error_kind == "refused"
    assert "Connection refused" in result.error


def test_unresolvable_host_is_reported(server):
    result = kube.check_connectivity(endpoint(server, url="https://no-such-host.invalid:6443"))
    assert result.error_kind == "dns"
    assert "could not be resolved" in result.error


def test_slow_server_times_out(server, settings):
    settings.KUBE_READ_TIMEOUT_SECONDS = 1
    server.routes["/version"] = slow_route(3, server.routes["/version"])
    result = kube.check_connectivity(endpoint(server))
    assert result.error_kind == "timeout"
    assert "did not answer in time" in result.error


def test_a_web_server_that_is_not_kubernetes_is_named_so(server):
    server.routes.clear()  # every path is a plain-text 404
    result = kube.check_connectivity(endpoint(server))
    assert result.error_kind == "not_kubernetes"
    assert "not a Kubernetes API server" in result.error


def test_html_answer_is_not_kubernetes(server):
    server.routes["/version"] = lambda h: (200, {"Content-Type": "text/html"}, b"<html>login</html>")
    result = kube.check_connectivity(endpoint(server))
    assert result.error_kind == "not_kubernetes"


def test_json_without_git_version_is_not_kubernetes(server):
    server.routes["/version"] = json_route(200, {"version": "2.0"})
    result = kube.check_connectivity(endpoint(server))
    assert result.error_kind == "not_kubernetes" and "gitVersion" in result.error


def test_redirects_are_never_followed(server):
    server.routes["/version"] = lambda h: (302, {"Location": "/elsewhere"}, b"")
    server.routes["/elsewhere"] = json_route(200, {"gitVersion": "v9.9.9"})
    result = kube.check_connectivity(endpoint(server))
    assert result.error_kind == "redirect"
    assert [path for _, path, _ in server.requests] == ["/version"]


def test_oversized_answer_is_refused(server):
    server.routes["/api/v1"] = lambda h: (200, {"Content-Type": "application/json"}, b"[" + b"0," * 3_000_000 + b"0]")
    result = kube.check_connectivity(endpoint(server))
    assert result.error_kind == "too_large"


def test_old_cluster_serves_eviction_as_v1beta1(server):
    core = {
        **CORE_V1,
        "resources": [{"name": "pods/eviction", "namespaced": True, "kind": "Eviction", "verbs": ["create"]}],
    }
    apis = {"kind": "APIGroupList", "groups": [{"name": "policy", "versions": [{"version": "v1beta1"}]}]}
    server.routes["/api/v1"] = json_route(200, core)
    server.routes["/apis"] = json_route(200, apis)
    result = kube.check_connectivity(endpoint(server))
    assert result.reachable and result.eviction_api_version == "policy/v1beta1"


def test_cluster_without_eviction_subresource_is_reachable_but_says_so(server):
    server.routes["/api/v1"] = json_route(200, {**CORE_V1, "resources": [CORE_V1["resources"][0]]})
    server.routes["/apis"] = json_route(200, APIS)
    result = kube.check_connectivity(endpoint(server))
    assert result.reachable and result.eviction_api_version == ""
    assert "does not serve pods/eviction" in result.error


def test_metadata_address_is_refused_before_connecting():
    result = kube.check_connectivity(kube.Endpoint("https://169.254.169.254", "", Credentials(token="t")))
    assert result.error_kind == "blocked"
    assert "metadata" in result.error


def test_client_certificate_authentication():
    client_ca_key, client_ca = make_ca("client-ca")
    user_key, user_cert = make_leaf(client_ca_key, client_ca, dns=["ci-user"], ips=[])
    srv = TLSServer(
        {
            "/version": json_route(200, {"gitVersion": "v1.29.0"}),
            "/api/v1": json_route(200, CORE_V1),
            "/apis": json_route(200, APIS),
        },
        client_ca_pem=pem(client_ca),
    )
    try:
        with_cert = kube.Endpoint(
            srv.url, srv.ca_pem, Credentials(client_cert_pem=pem(user_cert), client_key_pem=key_pem(user_key))
        )
        without = kube.Endpoint(srv.url, srv.ca_pem, Credentials(token="x"))
        assert kube.check_connectivity(with_cert).reachable
        assert not kube.check_connectivity(without).reachable
    finally:
        srv.stop()


def test_one_client_per_cluster_is_reused_until_credentials_change(server):
    first = kube.api_client_for(kube.Endpoint(server.url, server.ca_pem, Credentials(token="a"), cluster_id=99))
    again = kube.api_client_for(kube.Endpoint(server.url, server.ca_pem, Credentials(token="a"), cluster_id=99))
    rotated = kube.api_client_for(kube.Endpoint(server.url, server.ca_pem, Credentials(token="b"), cluster_id=99))
    assert first is again
    assert rotated is not first
    kube.forget_client(99)


def test_a_server_that_pages_without_end_is_an_error_in_words(server, monkeypatch):
    from itertools import count

    monkeypatch.setattr(kube, "MAX_LIST_ITEMS", 5 * kube.LIST_PAGE_SIZE)
    tokens = count()
    server.routes["/api/v1/nodes"] = lambda handler: json_route(
        200, {"items": [], "metadata": {"continue": f"t{next(tokens)}"}}
    )(handler)
    with pytest.raises(kube.KubeError) as caught:
        kube.list_nodes(endpoint(server))
    assert caught.value.kind == kube.ErrorKind.TOO_LARGE and "did not end after" in caught.value.message


def test_a_server_that_repeats_a_page_is_an_error_in_words(server):
    server.routes["/api/v1/pods"] = json_route(200, {"items": [], "metadata": {"continue": "same"}})
    with pytest.raises(kube.KubeError, match="answered the same page twice"):
        kube.list_pods(endpoint(server))
