"""Authorization matrix (issue 7 item 4): every role by every action, through the API and the pages.

Rows are created directly (no cluster, no worker); only permission outcomes are asserted. A role not allowed gets a
403 and nothing changes in the database; an allowed role gets past the permission layer (anything but a 403).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from clusters.models import Cluster
from evictions.models import (
    Approval,
    ApprovalPolicy,
    EvictionRequest,
    MaintenanceWindow,
    PodEviction,
    RequestStatus,
)
from notifications.models import NotificationEndpoint
from tests.factories import ClusterFactory, UserFactory

ROLES = ["viewer", "requester", "approver", "operator", "admin", "none"]
ADMIN = {"admin"}
OPERATE = {"operator", "admin"}
APPROVE = {"approver", "admin"}
REQUEST = {"requester", "admin"}
READ = {"viewer", "requester", "approver", "operator", "admin"}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users are made per case; the real hasher would take most of the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db):
    cluster = ClusterFactory(api_url="https://127.0.0.1:1")
    owner = UserFactory(username="owner", roles=["requester"])
    now = timezone.now()
    awaiting = EvictionRequest.objects.create(
        cluster=cluster,
        requester=owner,
        kind="drain",
        node="node-1",
        reason="r",
        status=RequestStatus.AWAITING_APPROVAL,
    )
    running = EvictionRequest.objects.create(
        cluster=cluster,
        requester=owner,
        kind="drain",
        node="node-2",
        reason="r",
        status=RequestStatus.RUNNING,
        started_at=now,
        pods_created_at=now,
        deadline_at=now + timedelta(minutes=30),
    )
    paused = EvictionRequest.objects.create(
        cluster=cluster,
        requester=owner,
        kind="drain",
        node="node-3",
        reason="r",
        status=RequestStatus.PAUSED,
        started_at=now,
        pods_created_at=now,
        deadline_at=now + timedelta(minutes=30),
    )
    pod = PodEviction.objects.create(request=running, name="web-1", namespace="shop", uid="uid-web-1", node="node-2")
    window = MaintenanceWindow.objects.create(
        cluster=cluster, kind="one_off", starts_at=now, ends_at=now + timedelta(hours=4), label="w"
    )
    endpoint = NotificationEndpoint.objects.create(
        name="mail", kind="email", emails="a@example.com", events=["approval_requested"], cluster=cluster
    )
    return {
        "cluster": cluster,
        "awaiting": awaiting,
        "running": running,
        "paused": paused,
        "pod": pod,
        "window": window,
        "endpoint": endpoint,
    }


def snapshot() -> dict[str, list]:
    """Everything a write could touch, except the audit log (a refusal may be audited)."""
    return {
        "requests": list(EvictionRequest.objects.order_by("pk").values()),
        "pods": list(PodEviction.objects.order_by("pk").values()),
        "approvals": list(Approval.objects.order_by("pk").values()),
        "policies": list(ApprovalPolicy.objects.order_by("pk").values()),
        "windows": list(MaintenanceWindow.objects.order_by("pk").values()),
        "clusters": list(Cluster.objects.order_by("pk").values()),
        "endpoints": list(NotificationEndpoint.objects.order_by("pk").values()),
    }


def c(w):
    return w["cluster"].pk


# (action, via, method, url builder, body builder, roles allowed)
MATRIX = [
    # reads
    ("view request list", "api", "get", lambda w: "/api/v1/requests/", None, READ),
    ("view request detail", "api", "get", lambda w: f"/api/v1/requests/{w['running'].pk}/", None, READ),
    ("view request list", "page", "get", lambda w: "/requests/", None, READ),
    ("view request detail", "page", "get", lambda w: f"/requests/{w['running'].pk}/", None, READ),
    ("export audit csv", "api", "get", lambda w: "/api/v1/audit/export.csv", None, READ),
    ("export audit csv", "page", "get", lambda w: "/audit/export.csv", None, READ),
    ("audit chain state", "page", "get", lambda w: "/audit/chain-state/", None, READ),
    # request
    (
        "create request (dry run)",
        "api",
        "post",
        lambda w: "/api/v1/requests/",
        lambda w: {"cluster": c(w), "kind": "drain", "node": "node-9", "reason": "x", "dry_run": True},
        REQUEST,
    ),
    # approve / reject
    ("approve", "api", "post", lambda w: f"/api/v1/requests/{w['awaiting'].pk}/approve/", lambda w: {}, APPROVE),
    (
        "reject",
        "api",
        "post",
        lambda w: f"/api/v1/requests/{w['awaiting'].pk}/reject/",
        lambda w: {"comment": "no"},
        APPROVE,
    ),
    ("approve", "page", "post", lambda w: f"/requests/{w['awaiting'].pk}/approve/", lambda w: {}, APPROVE),
    ("reject", "page", "post", lambda w: f"/requests/{w['awaiting'].pk}/reject/", lambda w: {"comment": "no"}, APPROVE),
    # request interventions
    *[
        (
            f"request {verb}",
            via,
            "post",
            (
                (lambda w, v=verb, k=key: f"/api/v1/requests/{w[k].pk}/{v}/")
                if via == "api"
                else (lambda w, v=verb, k=key: f"/requests/{w[k].pk}/{v}/")
            ),
            body,
            OPERATE,
        )
        for via in ("api", "page")
        for verb, key, body in [
            ("pause", "running", lambda w: {"reason": "stop"}),
            ("resume", "paused", lambda w: {"reason": "go"}),
            ("cancel", "running", lambda w: {"reason": "stop", "uncordon": False}),
            ("retry", "running", lambda w: {"reason": "again"}),
            ("extend", "running", lambda w: {"minutes": 30, "reason": "more"}),
        ]
    ],
    # pod interventions
    *[
        (
            f"pod {verb}",
            via,
            "post",
            (
                (lambda w, v=verb: f"/api/v1/evictions/{w['pod'].pk}/{v}/")
                if via == "api"
                else (lambda w, v=verb: f"/evictions/{w['pod'].pk}/{v}/")
            ),
            body,
            OPERATE,
        )
        for via in ("api", "page")
        for verb, body in [
            ("retry", lambda w: {"reason": "again"}),
            ("skip", lambda w: {"reason": "leave it"}),
            ("force-delete", lambda w: {"reason": "stuck", "confirm_name": "web-1", "grace_period_seconds": 0}),
        ]
    ],
    # clusters
    (
        "cluster create",
        "api",
        "post",
        lambda w: "/api/v1/clusters/",
        lambda w: {"name": "new", "api_url": "https://127.0.0.1:1", "ca_pem": "", "token": "t"},
        ADMIN,
    ),
    ("cluster update", "api", "patch", lambda w: f"/api/v1/clusters/{c(w)}/", lambda w: {"qps_limit": 7}, ADMIN),
    ("cluster delete", "api", "delete", lambda w: f"/api/v1/clusters/{c(w)}/", None, ADMIN),
    ("cluster check", "api", "post", lambda w: f"/api/v1/clusters/{c(w)}/check/", lambda w: {}, OPERATE),
    ("cluster pause", "api", "post", lambda w: f"/api/v1/clusters/{c(w)}/pause/", lambda w: {"reason": "x"}, OPERATE),
    ("cluster resume", "api", "post", lambda w: f"/api/v1/clusters/{c(w)}/resume/", lambda w: {}, OPERATE),
    ("cluster create", "page", "post", lambda w: "/clusters/add/", lambda w: {"name": "new"}, ADMIN),
    ("cluster update", "page", "post", lambda w: f"/clusters/{c(w)}/edit/", lambda w: {"name": "renamed"}, ADMIN),
    (
        "cluster delete",
        "page",
        "post",
        lambda w: f"/clusters/{c(w)}/delete/",
        lambda w: {"confirm_name": w["cluster"].name},
        ADMIN,
    ),
    ("cluster check", "page", "post", lambda w: f"/clusters/{c(w)}/check/", lambda w: {}, OPERATE),
    ("cluster pause", "page", "post", lambda w: f"/clusters/{c(w)}/pause/", lambda w: {"reason": "x"}, OPERATE),
    # policies and windows
    (
        "policy update",
        "api",
        "put",
        lambda w: f"/api/v1/policies/{c(w)}/",
        lambda w: {"required_approvals": 0},
        ADMIN,
    ),
    (
        "policy update",
        "page",
        "post",
        lambda w: f"/clusters/{c(w)}/policy/",
        lambda w: {"required_approvals": 0},
        ADMIN,
    ),
    (
        "window create",
        "api",
        "post",
        lambda w: "/api/v1/windows/",
        lambda w: {
            "cluster": c(w),
            "kind": "one_off",
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-01T04:00:00Z",
        },
        ADMIN,
    ),
    ("window update", "api", "patch", lambda w: f"/api/v1/windows/{w['window'].pk}/", lambda w: {"label": "x"}, ADMIN),
    ("window delete", "api", "delete", lambda w: f"/api/v1/windows/{w['window'].pk}/", None, ADMIN),
    ("window create", "page", "post", lambda w: f"/clusters/{c(w)}/windows/add/", lambda w: {"kind": "one_off"}, ADMIN),
    ("window update", "page", "post", lambda w: f"/clusters/windows/{w['window'].pk}/edit/", lambda w: {}, ADMIN),
    ("window delete", "page", "post", lambda w: f"/clusters/windows/{w['window'].pk}/delete/", lambda w: {}, ADMIN),
    # notifications
    (
        "notification endpoint create",
        "api",
        "post",
        lambda w: "/api/v1/notification-endpoints/",
        lambda w: {"name": "n", "kind": "email", "emails": "b@example.com", "events": ["approval_requested"]},
        ADMIN,
    ),
    ("notification endpoint create", "page", "post", lambda w: "/notifications/add/", lambda w: {"name": "n"}, ADMIN),
    # audit verification
    ("audit verify now", "page", "post", lambda w: "/audit/verify/", lambda w: {}, ADMIN),
]


def user_for(role: str):
    return UserFactory(username=f"u-{role}", roles=[] if role == "none" else [role])


def client_for(user, via: str):
    if via == "api":
        client = APIClient()
        client.force_authenticate(user)
        return client
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def send(client, via, method, url, body):
    if via == "api":
        return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
    return getattr(client, method)(url, body) if body is not None else getattr(client, method)(url)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("action", "via", "method", "url", "body", "allowed"),
    MATRIX,
    ids=[f"{row[1]}:{row[0]}" for row in MATRIX],
)
def test_matrix(world, role, action, via, method, url, body, allowed):
    client = client_for(user_for(role), via)
    before = snapshot()
    response = send(client, via, method, url(world), body(world) if body else None)
    if role in allowed:
        assert response.status_code != 403, (action, via, role)
        assert response.status_code < 500, (action, via, role, response.status_code)
    else:
        assert response.status_code == 403, (action, via, role, response.status_code)
        assert snapshot() == before, (action, via, role)


@pytest.mark.parametrize(
    ("action", "via", "method", "url", "body", "allowed"),
    MATRIX,
    ids=[f"{row[1]}:{row[0]}" for row in MATRIX],
)
def test_anonymous(world, action, via, method, url, body, allowed):
    client = APIClient() if via == "api" else Client()
    before = snapshot()
    response = send(client, via, method, url(world), body(world) if body else None)
    if via == "api":
        assert response.status_code in (401, 403)
    else:
        assert response.status_code == 302 and "/login/" in response["Location"]
    assert snapshot() == before


def _fill(path: str, w) -> str:
    ids = {
        "requests": w["awaiting"].pk,
        "evictions": w["pod"].pk,
        "clusters": w["cluster"].pk,
        "windows": w["window"].pk,
        "policies": w["cluster"].pk,
        "notification-endpoints": w["endpoint"].pk,
    }
    segment = path.split("/")[3]
    return re.sub(r"\{[^}]+\}", str(ids.get(segment, 1)), path)


def test_viewer_can_write_nothing_through_the_api(world, vera):
    schema = client_for(vera, "api").get("/api/schema/?format=json").json()
    client = client_for(vera, "api")
    checked = []
    for path, operations in schema["paths"].items():
        for method in ("post", "put", "patch", "delete"):
            if method not in operations:
                continue
            before = snapshot()
            response = getattr(client, method)(_fill(path, world), {}, format="json")
            assert response.status_code in (403, 405), (method, path, response.status_code)
            assert snapshot() == before, (method, path)
            checked.append((method, path))
    assert len(checked) >= 20


@pytest.mark.parametrize("role", ["requester", "admin"])
@pytest.mark.parametrize("via", ["api", "page"])
def test_self_approval_is_impossible(db, role, via):
    user = UserFactory(username="self", roles=[role, "approver"])
    cluster = ClusterFactory()
    own = EvictionRequest.objects.create(
        cluster=cluster, requester=user, kind="drain", node="n", reason="r", status=RequestStatus.AWAITING_APPROVAL
    )
    url = f"/api/v1/requests/{own.pk}/approve/" if via == "api" else f"/requests/{own.pk}/approve/"
    response = send(client_for(user, via), via, "post", url, {})
    # The API refuses with a 403; the page refuses with a redirect back and an error message.
    assert response.status_code == (403 if via == "api" else 302), response.status_code
    assert not Approval.objects.filter(request=own).exists()
    own.refresh_from_db()
    assert own.status == RequestStatus.AWAITING_APPROVAL
