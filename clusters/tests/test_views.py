"""Cluster pages: admins add, edit, delete and check; everyone with a role reads; errors land on their fields."""

from __future__ import annotations

import pytest
import yaml
from django.urls import reverse

from audit.models import AuditEvent
from clusters.models import Cluster
from tests.factories import ClusterFactory
from tests.tlsserver import TLSServer, kubeconfig_for, kubernetes_routes

TOKEN = "view-token-42"


@pytest.fixture
def server():
    srv = TLSServer(kubernetes_routes(TOKEN))
    yield srv
    srv.stop()


def test_admin_adds_a_cluster_by_url_and_token_and_sees_it_reachable(admin_client, server):
    response = admin_client.post(
        reverse("cluster-add"),
        {
            "name": "prod",
            "source": "token",
            "api_url": server.url,
            "ca_pem": server.ca_pem,
            "token": TOKEN,
            "qps_limit": 10,
        },
        follow=True,
    )
    cluster = Cluster.objects.get(name="prod")
    assert response.redirect_chain[-1][0] == reverse("cluster-detail", args=[cluster.pk])
    page = response.content.decode()
    assert "reachable" in page and "v1.30.2" in page and "policy/v1" in page
    assert TOKEN not in page


def test_admin_adds_a_cluster_from_an_uploaded_kubeconfig(admin_client, server):
    from django.core.files.uploadedfile import SimpleUploadedFile

    text = kubeconfig_for(server, {"token": TOKEN}, "edge")
    upload = SimpleUploadedFile("config", text.encode())
    response = admin_client.post(
        reverse("cluster-add"), {"source": "kubeconfig", "kubeconfig_file": upload, "qps_limit": 5}, follow=True
    )
    assert Cluster.objects.get(name="edge").reachable is True
    assert TOKEN not in response.content.decode()


def test_form_errors_are_shown_per_field_and_nothing_is_stored(admin_client):
    response = admin_client.post(
        reverse("cluster-add"),
        {"name": "Bad Name", "source": "token", "api_url": "ftp://x", "token": "", "qps_limit": 10},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "must start with https://" in errors["api_url"][0]
    assert "Enter the bearer token" in errors["token"][0]
    assert not Cluster.objects.exists()


def test_a_kubeconfig_error_never_echoes_the_pasted_secret(admin_client):
    text = yaml.safe_dump(
        {
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
            "users": [{"name": "u", "user": {"token": "do-not-echo-me", "exec": {"command": "sh"}}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )
    response = admin_client.post(reverse("cluster-add"), {"source": "kubeconfig", "kubeconfig": text, "qps_limit": 10})
    page = response.content.decode()
    assert "runs a program" in page
    assert "do-not-echo-me" not in page
    assert not Cluster.objects.exists()


def test_check_button_returns_the_status_partial_for_htmx(operator_client, server, alice):
    from clusters import services

    cluster = services.cluster_create(
        actor=alice,
        name="prod",
        connection=services.connection_from_input(api_url=server.url, ca_pem=server.ca_pem, token=TOKEN),
    )
    response = operator_client.post(reverse("cluster-check", args=[cluster.pk]), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="cluster-status"')
    assert "reachable" in body and "<html" not in body


def test_viewer_reads_but_cannot_manage(viewer_client):
    cluster = ClusterFactory(name="prod")
    assert viewer_client.get(reverse("cluster-list")).status_code == 200
    detail = viewer_client.get(reverse("cluster-detail", args=[cluster.pk]))
    assert detail.status_code == 200 and "Check connectivity now" not in detail.content.decode()
    for name in ("cluster-add", "cluster-edit", "cluster-delete"):
        args = [] if name == "cluster-add" else [cluster.pk]
        assert viewer_client.get(reverse(name, args=args)).status_code == 403
    assert viewer_client.post(reverse("cluster-check", args=[cluster.pk])).status_code == 403


def test_user_without_a_role_cannot_read_clusters(nora, client):
    client.force_login(nora, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("cluster-list")).status_code == 403


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("cluster-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_edit_keeps_the_token_when_left_blank(admin_client):
    cluster = ClusterFactory(name="prod", api_url="https://k8s.example.com")
    token_before = cluster.credentials.token
    response = admin_client.post(
        reverse("cluster-edit", args=[cluster.pk]),
        {"name": "prod-2", "api_url": "https://k8s.example.com", "ca_pem": "", "token": "", "qps_limit": 7},
    )
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert (cluster.name, cluster.qps_limit, cluster.credentials.token) == ("prod-2", 7, token_before)


def test_delete_needs_the_name_typed(admin_client):
    cluster = ClusterFactory(name="prod")
    admin_client.post(reverse("cluster-delete", args=[cluster.pk]), {"confirm_name": "wrong"})
    assert Cluster.objects.filter(pk=cluster.pk).exists()
    admin_client.post(reverse("cluster-delete", args=[cluster.pk]), {"confirm_name": "prod"})
    assert not Cluster.objects.filter(pk=cluster.pk).exists()
    assert AuditEvent.objects.filter(action="cluster.delete", actor_name="alice").exists()


def test_cluster_names_from_input_are_escaped_in_pages(admin_client):
    cluster = ClusterFactory(name="prod")
    Cluster.objects.filter(pk=cluster.pk).update(last_error='<script>alert("x")</script>', server_version="<b>v1</b>")
    page = admin_client.get(reverse("cluster-list")).content.decode()
    assert '<script>alert("x")</script>' not in page and "&lt;script&gt;" in page
    assert "<b>v1</b>" not in page
