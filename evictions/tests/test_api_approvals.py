"""REST API for approvals: the approval rules as a table through the API (self-approval, one vote, N of M, expiry,
an approver removed, rejection, roles), direct deletes that wait for approval, the inbox, policies, requests that
cannot be changed after submission, new request fields, and the OpenAPI schema without warnings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import System
from evictions.models import (
    Approval,
    ApprovalPolicy,
    AttemptKind,
    EvictionAttempt,
    EvictionRequest,
    MaintenanceWindow,
    PodEviction,
    PodStatus,
    RequestStatus,
)
from evictions.services.approvals import PolicyInput, policy_set
from evictions.services.requests import request_start
from kubesim import Simulator
from tests.factories import ClusterFactory, UserFactory
from tests.kubesim_cluster import register_sim

pytestmark = pytest.mark.django_db

URL = "/api/v1/requests/"
INBOX = "/api/v1/approvals/inbox/"
POLICIES = "/api/v1/policies/"
ALL_OPTIONS = {"ignore_daemonsets": True, "delete_emptydir_data": True, "force": True}


@pytest.fixture(scope="module")
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim):
    sim.load_scenario("demo")  # each test starts from the demo as written
    created = register_sim(sim, name="prod")
    assert created.reachable
    return created


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def needs(cluster, count: int, **extra) -> None:
    policy_set(actor=System("test"), cluster_id=cluster.pk, data=PolicyInput(required_approvals=count, **extra))


def submit(user, cluster, **extra) -> dict:
    """A pods request for the three shop/web pods, made through the API."""
    body = {
        "cluster": cluster.pk,
        "kind": "pods",
        "reason": "move web off old nodes",
        "targets": [{"namespace": "shop", "selector": "app=web"}],
        **extra,
    }
    response = client_for(user).post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def approve(user, request_id: int, comment: str = ""):
    body = {"comment": comment} if comment else {}
    return client_for(user).post(f"{URL}{request_id}/approve/", body, format="json")


def reject(user, request_id: int, comment: str = "not during the sale"):
    return client_for(user).post(f"{URL}{request_id}/reject/", {"comment": comment}, format="json")


def detail(request_id: int, user) -> dict:
    response = client_for(user).get(f"{URL}{request_id}/")
    assert response.status_code == 200
    return response.json()


def stored(request_id: int) -> EvictionRequest:
    return EvictionRequest.objects.get(pk=request_id)


# ---- the approval rules, as a table through the API ---------------------------------------------------------------


def test_a_request_on_a_cluster_needing_approval_waits_and_says_so(rita, vera, cluster):
    needs(cluster, 1)
    body = submit(rita, cluster)
    assert body["status"] == "awaiting_approval"
    assert body["approvals"] == [] and body["approved_at"] is None
    assert body["approval_state"] == "0 of 1 approval(s); needs 1 more."
    assert body["schedule"] == "now" and body["queue_position"] is None
    assert detail(body["id"], vera)["approval_state"] == "0 of 1 approval(s); needs 1 more."


@pytest.mark.parametrize(
    ("rule", "required", "votes", "expected_codes", "final_status", "recorded"),
    [
        # (who votes how, in order) → the answer to each vote, the request's status after, approvals stored
        ("self-approval", 1, [("rita_admin", "approve")], [403], "awaiting_approval", 0),
        ("self-rejection", 1, [("rita_admin", "reject")], [403], "awaiting_approval", 0),
        ("one approval of one", 1, [("adam", "approve")], [200], "scheduled", 1),
        ("duplicate vote", 2, [("adam", "approve"), ("adam", "approve")], [200, 400], "awaiting_approval", 1),
        ("2 of M, first", 2, [("adam", "approve")], [200], "awaiting_approval", 1),
        ("2 of M, second", 2, [("adam", "approve"), ("alice", "approve")], [200, 200], "scheduled", 2),
        ("rejection ends it", 2, [("adam", "reject")], [200], "rejected", 1),
        ("approve after rejection", 2, [("adam", "reject"), ("alice", "approve")], [200, 400], "rejected", 1),
        ("reject twice", 2, [("adam", "reject"), ("adam", "reject")], [200, 400], "rejected", 1),
        ("viewer", 1, [("vera", "approve")], [403], "awaiting_approval", 0),
        ("requester", 1, [("rita", "approve")], [403], "awaiting_approval", 0),
        ("operator", 1, [("olga", "reject")], [403], "awaiting_approval", 0),
        ("no role", 1, [("nora", "approve")], [403], "awaiting_approval", 0),
    ],
)
def test_the_approval_rules_through_the_api(
    request, cluster, rule, required, votes, expected_codes, final_status, recorded
):
    needs(cluster, required)
    # "rita_admin" asks and votes on her own request; otherwise rita (a requester) asks and others vote.
    requester_name = "rita_admin" if votes[0][0] == "rita_admin" else "rita"
    requester = (
        UserFactory(username="rita_admin", roles=["admin"])
        if requester_name == "rita_admin"
        else request.getfixturevalue("rita")
    )
    created = submit(requester, cluster)
    codes = []
    for name, decision in votes:
        voter = requester if name == "rita_admin" else request.getfixturevalue(name)
        answer = approve(voter, created["id"]) if decision == "approve" else reject(voter, created["id"])
        codes.append(answer.status_code)
        if answer.status_code == 403:
            assert answer.json()["detail"], rule
        if answer.status_code == 400:
            assert "approval" in answer.json(), rule
    assert codes == expected_codes, rule
    assert stored(created["id"]).status == final_status, rule
    assert Approval.objects.filter(request_id=created["id"]).count() == recorded, rule


def test_self_approval_is_a_403_naming_the_rule_and_writes_nothing(cluster):
    needs(cluster, 1)
    ana = UserFactory(username="ana", roles=["admin"])
    created = submit(ana, cluster)
    events = AuditEvent.objects.count()
    answer = approve(ana, created["id"], "trust me")
    assert answer.status_code == 403
    assert "your own request" in answer.json()["detail"]
    assert not Approval.objects.exists() and AuditEvent.objects.count() == events


def test_two_of_many_approvals_schedule_the_request_and_show_who_approved(rita, adam, alice, vera, cluster):
    needs(cluster, 2)
    created = submit(rita, cluster)
    first = approve(adam, created["id"], "looks fine")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["status"] == "awaiting_approval"
    assert body["approval_state"] == "1 of 2 approval(s); needs 1 more."
    assert [(a["approver"], a["decision"], a["comment"]) for a in body["approvals"]] == [
        ("adam", "approve", "looks fine")
    ]
    second = approve(alice, created["id"])
    assert second.status_code == 200
    body = second.json()
    assert body["status"] == "scheduled" and body["approved_at"]
    assert [a["approver"] for a in body["approvals"]] == ["adam", "alice"]
    assert body["approval_state"] == "2 of 2 approval(s)."
    row = next(r for r in client_for(vera).get(URL).json()["results"] if r["id"] == created["id"])
    assert [a["approver"] for a in row["approvals"]] == ["adam", "alice"] and row["approved_at"]
    assert AuditEvent.objects.filter(action="request.approve", object_id=str(created["id"])).count() == 2


def test_an_expired_approval_sends_the_request_back_to_awaiting_approval(rita, adam, vera, cluster):
    needs(cluster, 1, approval_valid_minutes=1)
    created = submit(rita, cluster)
    assert approve(adam, created["id"]).json()["status"] == "scheduled"
    Approval.objects.filter(request_id=created["id"]).update(created_at=timezone.now() - timedelta(minutes=2))
    request_start(request_id=created["id"])
    body = detail(created["id"], vera)
    assert body["status"] == "awaiting_approval" and body["approved_at"] is None
    assert "expired: adam" in body["approval_state"]
    assert not PodEviction.objects.filter(request_id=created["id"]).exists()
    # The expired approver may approve again; the renewed vote counts.
    again = approve(adam, created["id"], "still fine")
    assert again.status_code == 200 and again.json()["status"] == "scheduled"


def test_an_approver_removed_from_the_allowed_group_before_the_start_no_longer_counts(rita, adam, vera, cluster):
    platform = Group.objects.create(name="platform")
    adam.groups.add(platform)
    needs(cluster, 1, approver_groups=("platform",))
    created = submit(rita, cluster)
    assert approve(adam, created["id"]).json()["status"] == "scheduled"
    adam.groups.remove(platform)
    request_start(request_id=created["id"])
    body = detail(created["id"], vera)
    assert body["status"] == "awaiting_approval"
    assert "no longer allowed to approve: adam" in body["approval_state"]
    assert not PodEviction.objects.filter(request_id=created["id"]).exists()
    answer = approve(adam, created["id"])
    assert answer.status_code == 403 and "not among the approvers" in answer.json()["detail"]


def test_an_approver_not_named_by_the_policy_cannot_vote(rita, adam, cluster):
    UserFactory(username="bea", roles=["approver"])
    needs(cluster, 1, approver_users=("bea",))
    created = submit(rita, cluster)
    answer = approve(adam, created["id"])
    assert answer.status_code == 403
    assert not Approval.objects.exists()


def test_a_rejection_ends_the_request_with_its_comment(rita, adam, alice, vera, cluster):
    needs(cluster, 2)
    created = submit(rita, cluster)
    answer = reject(adam, created["id"], "not during the sale")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "rejected" and body["finished_at"]
    assert "not during the sale" in body["status_reason"]
    assert body["approval_state"] is None  # it is over
    assert [(a["approver"], a["decision"]) for a in body["approvals"]] == [("adam", "reject")]
    late = approve(alice, created["id"])
    assert late.status_code == 400 and "not waiting" in late.json()["approval"][0]
    assert AuditEvent.objects.filter(action="request.reject", actor_name="adam").exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("reject", {}, "comment"),
        ("reject", {"comment": "   "}, "comment"),
        ("approve", {"comment": "ok", "force": True}, "force"),
        ("approve", {"comment": "x" * 2001}, "comment"),
        ("approve", {"comment": 5 * [1]}, "comment"),
    ],
)
def test_a_bad_vote_body_is_a_400_naming_the_field_and_records_nothing(rita, adam, cluster, path, body, field):
    needs(cluster, 1)
    created = submit(rita, cluster)
    answer = client_for(adam).post(f"{URL}{created['id']}/{path}/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not Approval.objects.exists()
    assert stored(created["id"]).status == RequestStatus.AWAITING_APPROVAL


def test_voting_on_an_unknown_request_is_a_404(adam):
    assert approve(adam, 424242).status_code == 404
    assert reject(adam, 424242).status_code == 404


def test_a_request_that_needs_no_approval_cannot_be_approved(rita, adam, cluster):
    created = submit(rita, cluster)
    assert created["status"] == "scheduled"
    assert created["approval_state"] == "No approval needed on this cluster."
    answer = approve(adam, created["id"])
    assert answer.status_code == 400 and "not waiting" in answer.json()["approval"][0]


# ---- a request cannot be changed after submission ------------------------------------------------------------------


def test_put_and_patch_on_a_request_are_405_and_change_nothing(rita, alice, cluster):
    created = submit(rita, cluster)
    for client in (client_for(rita), client_for(alice)):
        assert client.put(f"{URL}{created['id']}/", {"reason": "other"}, format="json").status_code == 405
        assert client.patch(f"{URL}{created['id']}/", {"reason": "other"}, format="json").status_code == 405
        assert client.delete(f"{URL}{created['id']}/").status_code == 405
    assert stored(created["id"]).reason == "move web off old nodes"


# ---- schedule, window and queue ------------------------------------------------------------------------------------


def test_a_request_can_wait_for_the_clusters_maintenance_window(rita, cluster):
    answer = client_for(rita).post(
        URL,
        {
            "cluster": cluster.pk,
            "kind": "pods",
            "reason": "r",
            "targets": [{"namespace": "shop", "selector": "app=web"}],
            "schedule": "window",
        },
        format="json",
    )
    assert answer.status_code == 400 and "maintenance windows" in answer.json()["schedule"][0]
    MaintenanceWindow.objects.create(
        cluster=cluster,
        kind="one_off",
        starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1, hours=2),
    )
    body = submit(rita, cluster, schedule="window")
    assert body["schedule"] == "window" and body["window_ends_at"] is None
    request_start(request_id=body["id"])
    assert "Waits for the next maintenance window" in stored(body["id"]).status_reason


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"schedule": "tomorrow"}, "schedule"),
        ({"schedule": "not_before"}, "not_before"),
    ],
)
def test_a_bad_schedule_is_a_400_naming_the_field(api, extra, field):
    cluster = ClusterFactory()
    body = {"cluster": cluster.pk, "kind": "pods", "reason": "r", "targets": [{"namespace": "a", "name": "b"}]}
    answer = api.post(URL, {**body, **extra}, format="json")
    assert answer.status_code == 400 and field in answer.json()
    assert not EvictionRequest.objects.exists()


def test_a_drain_waiting_for_its_turn_shows_its_place_in_the_queue(api, vera, cluster):
    drains = []
    for node in ("node-2", "node-3"):
        body = {"cluster": cluster.pk, "kind": "drain", "reason": "kernel", "node": node, "options": ALL_OPTIONS}
        answer = api.post(URL, body, format="json")
        assert answer.status_code == 201, answer.content
        drains.append(answer.json()["id"])
    assert detail(drains[0], vera)["queue_position"] == 1
    assert detail(drains[1], vera)["queue_position"] == 2
    request_start(request_id=drains[0])
    request_start(request_id=drains[1])
    assert stored(drains[0]).status == RequestStatus.RUNNING
    assert detail(drains[0], vera)["queue_position"] is None
    second = detail(drains[1], vera)
    assert second["status"] == "scheduled" and second["queue_position"] == 1
    assert "Queued" in second["status_reason"]


def test_the_list_shows_votes_without_a_query_per_request(vera, adam, alice, django_assert_max_num_queries):
    cluster = ClusterFactory()
    rita = UserFactory(username="rita", roles=["requester"])
    for _ in range(20):
        request = EvictionRequest.objects.create(
            cluster=cluster, requester=rita, kind="drain", node="n", reason="r", status=RequestStatus.AWAITING_APPROVAL
        )
        for approver in (adam, alice):
            Approval.objects.create(
                request=request, requester=rita, approver=approver, decision="approve", created_at=timezone.now()
            )
    with django_assert_max_num_queries(7):
        rows = client_for(vera).get(URL).json()["results"]
    assert len(rows) == 20 and all([a["approver"] for a in r["approvals"]] == ["adam", "alice"] for r in rows)


# ---- direct deletes that wait for approval -------------------------------------------------------------------------


@pytest.fixture
def running(rita, cluster):
    """A running request with its three pod rows, on a cluster whose direct deletes need one approval."""
    created = submit(rita, cluster)
    request_start(request_id=created["id"])
    request = stored(created["id"])
    assert request.status == RequestStatus.RUNNING and request.pods.count() == 3
    needs(cluster, 0, delete_needs_approval=True)
    return request


def pod_url(pod: PodEviction, action: str = "") -> str:
    return f"/api/v1/evictions/{pod.pk}/" + (f"{action}/" if action else "")


def test_a_direct_delete_waits_for_another_persons_approval(olga, adam, vera, running):
    pod = running.pods.order_by("name").first()
    operator = client_for(olga)
    body = {"reason": "stuck behind its budget", "confirm_name": pod.name}
    asked = operator.post(pod_url(pod, "force-delete"), body, format="json")
    assert asked.status_code == 202, asked.content
    answer = asked.json()
    assert answer["delete_requested_by"] == "olga" and answer["delete_requested_at"]
    assert answer["delete_reason"] == "stuck behind its budget" and answer["status"] == "pending"
    assert not EvictionAttempt.objects.filter(pod=pod).exists()  # nothing was deleted
    assert operator.post(pod_url(pod, "force-delete"), body, format="json").status_code == 400  # already asked

    # The operator cannot approve (no approver role), nor can the admin who asked for it herself.
    denied = operator.post(pod_url(pod, "approve-delete"), {}, format="json")
    assert denied.status_code == 403
    inbox = client_for(adam).get(INBOX).json()
    assert [p["id"] for p in inbox["pod_deletes"]] == [pod.pk]
    assert inbox["pod_deletes"][0]["delete_requested_by"] == "olga"
    assert client_for(vera).get(INBOX).json() == {"requests": [], "pod_deletes": []}

    approved = client_for(adam).post(pod_url(pod, "approve-delete"), {"comment": "owner agrees"}, format="json")
    assert approved.status_code == 200, approved.content
    answer = approved.json()
    assert answer["status"] in ("terminating", "deleted") and answer["delete_requested_at"] is None
    assert [(a["approver"], a["decision"], a["comment"]) for a in answer["delete_approvals"]] == [
        ("adam", "approve", "owner agrees")
    ]
    assert [(a["kind"], a["http_status"]) for a in answer["attempts"]] == [(AttemptKind.DELETE, 200)]
    assert client_for(adam).get(INBOX).json()["pod_deletes"] == []
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"pod.force_delete_requested", "pod.force_delete_approve", "pod.force_delete"} <= actions


def test_whoever_asked_for_a_direct_delete_cannot_approve_it(alice, running):
    pod = running.pods.order_by("name").first()
    admin = client_for(alice)
    asked = admin.post(pod_url(pod, "force-delete"), {"reason": "stuck", "confirm_name": pod.name}, format="json")
    assert asked.status_code == 202
    own = admin.post(pod_url(pod, "approve-delete"), {}, format="json")
    assert own.status_code == 403 and "you asked for" in own.json()["detail"]
    assert not Approval.objects.filter(pod=pod).exists()
    assert PodEviction.objects.get(pk=pod.pk).delete_requested_at is not None


def test_a_refused_direct_delete_leaves_the_pod_waiting(olga, adam, running):
    pod = running.pods.order_by("name").first()
    client_for(olga).post(pod_url(pod, "force-delete"), {"reason": "stuck", "confirm_name": pod.name}, format="json")
    missing = client_for(adam).post(pod_url(pod, "reject-delete"), {}, format="json")
    assert missing.status_code == 400 and "comment" in missing.json()
    refused = client_for(adam).post(pod_url(pod, "reject-delete"), {"comment": "wait for the budget"}, format="json")
    assert refused.status_code == 200, refused.content
    body = refused.json()
    assert body["status"] == "pending" and body["delete_requested_at"] is None
    assert "wait for the budget" in body["note"]
    assert [a["decision"] for a in body["delete_approvals"]] == ["reject"]
    assert not EvictionAttempt.objects.filter(pod=pod).exists()
    again = client_for(adam).post(pod_url(pod, "approve-delete"), {}, format="json")
    assert again.status_code == 400


def test_approving_a_delete_nobody_asked_for_is_a_400(adam, running):
    pod = running.pods.order_by("name").first()
    answer = client_for(adam).post(pod_url(pod, "approve-delete"), {}, format="json")
    assert answer.status_code == 400 and "approval" in answer.json()


def test_viewers_and_requesters_cannot_decide_on_a_direct_delete(olga, vera, rita, running):
    pod = running.pods.order_by("name").first()
    client_for(olga).post(pod_url(pod, "force-delete"), {"reason": "stuck", "confirm_name": pod.name}, format="json")
    for user in (vera, rita):
        for path, body in (("approve-delete", {}), ("reject-delete", {"comment": "no"})):
            answer = client_for(user).post(pod_url(pod, path), body, format="json")
            assert answer.status_code == 403, (user, path)
    assert not Approval.objects.exists()


# ---- the inbox -------------------------------------------------------------------------------------------------------


def test_the_inbox_lists_what_the_caller_may_approve(rita, adam, alice, cluster):
    needs(cluster, 1)
    by_rita = submit(rita, cluster)
    by_alice = submit(alice, cluster)
    assert [r["id"] for r in client_for(adam).get(INBOX).json()["requests"]] == [by_rita["id"], by_alice["id"]]
    assert [r["id"] for r in client_for(alice).get(INBOX).json()["requests"]] == [by_rita["id"]]  # not her own
    assert client_for(rita).get(INBOX).json()["requests"] == []
    approve(adam, by_rita["id"])
    assert [r["id"] for r in client_for(adam).get(INBOX).json()["requests"]] == [by_alice["id"]]


def test_the_inbox_reads_in_a_bounded_number_of_queries(adam, olga, django_assert_max_num_queries):
    cluster = ClusterFactory()
    needs(cluster, 1, delete_needs_approval=True)
    rita = UserFactory(username="rita", roles=["requester"])
    now = timezone.now()
    for i in range(10):
        request = EvictionRequest.objects.create(
            cluster=cluster,
            requester=rita,
            kind="drain",
            node=f"n{i}",
            reason="r",
            status=RequestStatus.AWAITING_APPROVAL,
        )
        running = EvictionRequest.objects.create(
            cluster=cluster, requester=rita, kind="drain", node=f"m{i}", reason="r", status=RequestStatus.RUNNING
        )
        pod = PodEviction.objects.create(
            request=running,
            namespace="shop",
            name=f"web-{i}",
            uid=f"u{i}",
            status=PodStatus.BLOCKED,
            delete_requested_by=olga,
            delete_requested_at=now,
            delete_reason="stuck",
        )
        EvictionAttempt.objects.create(pod=pod, at=now, http_status=429, outcome="blocked")
        Approval.objects.create(request=request, requester=rita, approver=olga, decision="approve", created_at=now)
    with django_assert_max_num_queries(16):
        body = client_for(adam).get(INBOX).json()
    assert len(body["requests"]) == 10 and all(r["approvals"][0]["approver"] == "olga" for r in body["requests"])
    assert len(body["pod_deletes"]) == 10
    assert all(p["delete_requested_by"] == "olga" and len(p["attempts"]) == 1 for p in body["pod_deletes"])


def test_the_inbox_needs_the_viewer_role(nora):
    assert client_for(nora).get(INBOX).status_code == 403
    assert APIClient().get(INBOX).status_code in (401, 403)


# ---- policies --------------------------------------------------------------------------------------------------------


def test_policies_read_built_in_then_default_then_the_clusters_own(api, vera):
    cluster = ClusterFactory(name="prod")
    reader = client_for(vera)
    body = reader.get(f"{POLICIES}{cluster.pk}/").json()
    assert body["source"] == "built-in" and body["required_approvals"] == 0 and body["cluster"] == cluster.pk
    assert reader.get(f"{POLICIES}default/").json()["source"] == "built-in"

    put = api.put(f"{POLICIES}default/", {"required_approvals": 1}, format="json")
    assert put.status_code == 200, put.content
    assert put.json()["source"] == "default" and put.json()["approval_valid_minutes"] == 7 * 24 * 60
    assert reader.get(f"{POLICIES}{cluster.pk}/").json()["source"] == "default"

    own = {
        "required_approvals": 2,
        "approver_groups": ["approver"],
        "approver_users": ["alice"],
        "delete_needs_approval": True,
        "approval_valid_minutes": 60,
        "windows_only": False,
    }
    put = api.put(f"{POLICIES}{cluster.pk}/", own, format="json")
    assert put.status_code == 200, put.content
    body = reader.get(f"{POLICIES}{cluster.pk}/").json()
    assert body["source"] == "cluster" and body["cluster_name"] == "prod"
    assert {k: body[k] for k in own} == own
    listed = reader.get(POLICIES).json()
    assert [(p["scope"], p["source"]) for p in listed] == [("default", "default"), (str(cluster.pk), "cluster")]

    reset = api.delete(f"{POLICIES}{cluster.pk}/")
    assert reset.status_code == 200 and reset.json()["source"] == "default"
    assert not ApprovalPolicy.objects.filter(cluster=cluster).exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="policy.").order_by("pk").values_list("action", flat=True)
    )
    assert actions == ["policy.update", "policy.update", "policy.reset"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"required_approvals": 1, "approver_groups": ["no-such-group"]}, "approver_groups"),
        ({"required_approvals": 1, "approver_users": ["nobody"]}, "approver_users"),
        ({"required_approvals": 11}, "required_approvals"),
        ({"required_approvals": -1}, "required_approvals"),
        ({"required_approvals": "two"}, "required_approvals"),
        ({}, "required_approvals"),
        ({"required_approvals": 1, "approval_valid_minutes": 0}, "approval_valid_minutes"),
        ({"required_approvals": 1, "approver_groups": "approver"}, "approver_groups"),
        ({"required_approvals": 1, "windows_only": "maybe"}, "windows_only"),
        ({"required_approvals": 1, "quorum": 3}, "quorum"),
    ],
)
def test_a_bad_policy_is_a_400_naming_the_field_and_stores_nothing(api, body, field):
    cluster = ClusterFactory()
    answer = api.put(f"{POLICIES}{cluster.pk}/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not ApprovalPolicy.objects.exists()


def test_only_admins_write_policies_and_everyone_reads_them(vera, adam, olga, rita, nora):
    cluster = ClusterFactory()
    for user in (vera, adam, olga, rita):
        client = client_for(user)
        assert client.get(f"{POLICIES}{cluster.pk}/").status_code == 200
        assert client.put(f"{POLICIES}{cluster.pk}/", {"required_approvals": 0}, format="json").status_code == 403
        assert client.put(f"{POLICIES}default/", {"required_approvals": 0}, format="json").status_code == 403
        assert client.delete(f"{POLICIES}{cluster.pk}/").status_code == 403
    assert client_for(nora).get(f"{POLICIES}default/").status_code == 403
    assert not ApprovalPolicy.objects.exists()


def test_unknown_clusters_are_404_and_the_default_policy_is_not_deleted(api):
    assert api.get(f"{POLICIES}424242/").status_code == 404
    assert api.put(f"{POLICIES}424242/", {"required_approvals": 1}, format="json").status_code == 404
    assert api.get(f"{POLICIES}prod/").status_code == 404
    assert api.delete(f"{POLICIES}default/").status_code == 405


# ---- clusters: drains at once --------------------------------------------------------------------------------------


def test_an_admin_sets_how_many_drains_run_at_once(api, viewer_api):
    cluster = ClusterFactory()
    assert viewer_api.get(f"/api/v1/clusters/{cluster.pk}/").json()["max_concurrent_drains"] == 1
    answer = api.patch(f"/api/v1/clusters/{cluster.pk}/", {"max_concurrent_drains": 3}, format="json")
    assert answer.status_code == 200 and answer.json()["max_concurrent_drains"] == 3
    for bad in (0, 1000, "many"):
        answer = api.patch(f"/api/v1/clusters/{cluster.pk}/", {"max_concurrent_drains": bad}, format="json")
        assert answer.status_code == 400 and "max_concurrent_drains" in answer.json()
    cluster.refresh_from_db()
    assert cluster.max_concurrent_drains == 3
    assert (
        viewer_api.patch(f"/api/v1/clusters/{cluster.pk}/", {"max_concurrent_drains": 2}, format="json").status_code
        == 403
    )


# ---- schema ----------------------------------------------------------------------------------------------------------


def test_the_new_endpoints_are_in_the_openapi_schema(admin_client):
    text = admin_client.get("/api/schema/").content.decode()
    for path in [
        "/api/v1/requests/{id}/approve/:",
        "/api/v1/requests/{id}/reject/:",
        "/api/v1/evictions/{id}/approve-delete/:",
        "/api/v1/evictions/{id}/reject-delete/:",
        "/api/v1/approvals/inbox/:",
        "/api/v1/policies/:",
        "/api/v1/policies/{scope}/:",
        "/api/v1/windows/:",
        "/api/v1/windows/{id}/:",
    ]:
        assert path in text, path
    for component in [
        "Approval",
        "Inbox",
        "Policy",
        "PolicyInputRequest",
        "MaintenanceWindow",
        "MaintenanceWindowRequest",
    ]:
        assert f"    {component}:" in text, component


def test_the_schema_generates_without_warnings(tmp_path: Path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_the_schema_documents_the_405_of_deleting_the_default_policy(api):
    assert api.delete(f"{POLICIES}default/").status_code == 405
    schema = api.get("/api/schema/?format=json").json()
    assert "405" in schema["paths"]["/api/v1/policies/{scope}/"]["delete"]["responses"]
