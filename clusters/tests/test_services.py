"""Cluster services: permission checks, validation that stores nothing on error, and an audit event per change."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from audit.selectors import audit_chain_verify
from audit.services import System
from clusters import services
from clusters.models import Cluster
from tests.tlsserver import TLSServer, kubeconfig_for, kubernetes_routes

TOKEN = "tok-123.abc"


@pytest.fixture
def server():
    srv = TLSServer(kubernetes_routes(TOKEN))
    yield srv
    srv.stop()


def connection(srv: TLSServer, token: str = TOKEN) -> services.ConnectionInput:
    return services.connection_from_input(api_url=srv.url, ca_pem=srv.ca_pem, token=token)


def test_admin_creates_a_cluster_with_an_audit_event(alice, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server), qps_limit=20)
    assert cluster.credentials.token == TOKEN
    event = AuditEvent.objects.get(action="cluster.create")
    assert event.actor_name == "alice" and event.cluster_id == cluster.pk
    assert event.details["api_url"] == server.url and event.details["qps_limit"] == 20
    assert TOKEN not in str(event.details)
    assert audit_chain_verify().ok


@pytest.mark.parametrize("user", ["olga", "rita", "adam", "vera", "nora"])
def test_only_admins_may_create_clusters(user, request, server):
    with pytest.raises(PermissionDenied, match="admin"):
        services.cluster_create(actor=request.getfixturevalue(user), name="x", connection=connection(server))
    assert not Cluster.objects.exists()
    assert not AuditEvent.objects.filter(action="cluster.create").exists()


def test_invalid_input_reports_every_field_and_stores_nothing(alice):
    with pytest.raises(ValidationError) as raised:
        services.connection_from_input(api_url="http://x", ca_pem="nope", token="")
    assert set(raised.value.message_dict) == {"api_url", "ca_pem", "token"}
    assert not Cluster.objects.exists()


def test_duplicate_name_is_a_field_error(alice, server):
    services.cluster_create(actor=alice, name="prod", connection=connection(server))
    with pytest.raises(ValidationError) as raised:
        services.cluster_create(actor=alice, name="prod", connection=connection(server))
    assert "already exists" in raised.value.message_dict["name"][0]
    assert Cluster.objects.count() == 1


def test_unreachable_cluster_is_stored_with_the_reason(alice):
    conn = services.connection_from_input(api_url="https://127.0.0.1:1", token="t")
    cluster = services.cluster_create(actor=alice, name="down", connection=conn)
    result = services.cluster_check(actor=alice, cluster=cluster)
    cluster.refresh_from_db()
    assert not result.reachable
    assert cluster.reachable is False and cluster.status == "unreachable"
    assert "Connection refused" in cluster.last_error


def test_check_records_reachability_version_and_eviction_api(alice, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server))
    services.cluster_check(actor=alice, cluster=cluster)
    cluster.refresh_from_db()
    assert (cluster.reachable, cluster.server_version, cluster.eviction_api_version) == (True, "v1.30.2", "policy/v1")
    assert cluster.last_checked_at is not None
    assert AuditEvent.objects.filter(action="cluster.check", actor_name="alice").count() == 1


def test_periodic_checks_are_audited_only_when_reachability_changes(alice, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server))
    tick = System("tick")
    services.cluster_check(actor=tick, cluster=cluster)
    services.cluster_check(actor=tick, cluster=cluster)
    assert AuditEvent.objects.filter(action="cluster.check").count() == 1
    server.routes.clear()
    services.cluster_check(actor=tick, cluster=cluster)
    assert AuditEvent.objects.filter(action="cluster.check").count() == 2


def test_operators_may_check_but_viewers_may_not(alice, olga, vera, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server))
    assert services.cluster_check(actor=olga, cluster=cluster).reachable
    with pytest.raises(PermissionDenied):
        services.cluster_check(actor=vera, cluster=cluster)


def test_update_replaces_the_token_and_audits_it_as_replaced(alice, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server))
    services.cluster_check(actor=alice, cluster=cluster)
    updated = services.cluster_update(actor=alice, cluster=cluster, token="new-token", qps_limit=3)
    assert updated.credentials.token == "new-token" and updated.qps_limit == 3
    assert updated.reachable is None  # a new credential has not been checked yet
    event = AuditEvent.objects.get(action="cluster.update")
    assert event.details["changes"] == {"credentials": "replaced", "credential_kind": "token", "qps_limit": 3}


def test_blank_token_on_update_keeps_the_stored_one(alice, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server))
    updated = services.cluster_update(actor=alice, cluster=cluster, name="prod-eu", token="")
    assert updated.name == "prod-eu" and updated.credentials.token == TOKEN


def test_invalid_update_changes_nothing(alice, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server))
    with pytest.raises(ValidationError) as raised:
        services.cluster_update(actor=alice, cluster=cluster, name="Bad Name", api_url="ftp://x")
    assert set(raised.value.message_dict) == {"name", "api_url"}
    cluster.refresh_from_db()
    assert cluster.name == "prod" and cluster.api_url == server.url
    assert not AuditEvent.objects.filter(action="cluster.update").exists()


def test_delete_is_audited_and_keeps_history(alice, server):
    cluster = services.cluster_create(actor=alice, name="prod", connection=connection(server))
    pk = cluster.pk
    services.cluster_delete(actor=alice, cluster=cluster)
    assert not Cluster.objects.exists()
    assert list(AuditEvent.objects.filter(cluster_id=pk).order_by("sequence").values_list("action", flat=True)) == [
        "cluster.create",
        "cluster.delete",
    ]


def test_kubeconfig_context_name_becomes_the_default_name(alice, server):
    text = kubeconfig_for(server, {"token": TOKEN}, "Staging_EU")
    cluster = services.cluster_create(actor=alice, name="", connection=services.connection_from_input(kubeconfig=text))
    assert cluster.name == "staging-eu"
    assert services.cluster_check(actor=alice, cluster=cluster).reachable
