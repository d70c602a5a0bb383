"""The approval rules through the services and the database: self-approval, one vote per person, N of M, expiry,
an approver removed before execution, rejection, and direct deletes that need approval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import System
from evictions.models import Approval, EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions
from evictions.services import approvals as approval_services
from evictions.services import pods as pod_services
from evictions.services.approvals import PolicyInput, policy_set, request_approve, request_reject
from evictions.services.requests import RequestInput, request_create, request_start
from kubesim import Simulator
from tests.factories import UserFactory
from tests.kubesim_cluster import register_sim

ALL = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim, db):
    return register_sim(sim, name="prod", qps_limit=50)


def needs(cluster, count: int, **extra) -> None:
    policy_set(actor=System("test"), cluster_id=cluster.pk, data=PolicyInput(required_approvals=count, **extra))


def submit(rita, cluster, node: str = "node-2") -> EvictionRequest:
    return request_create(
        actor=rita, data=RequestInput(cluster=cluster, kind="drain", reason="kernel", node=node, options=ALL)
    )


def status(request: EvictionRequest) -> str:
    return EvictionRequest.objects.get(pk=request.pk).status


def test_a_cluster_needing_approval_holds_the_request_and_nothing_runs(rita, cluster, sim):
    needs(cluster, 1)
    request = submit(rita, cluster)
    assert request.status == RequestStatus.AWAITING_APPROVAL
    request_start(request_id=request.pk)  # a stray start does nothing
    assert status(request) == RequestStatus.AWAITING_APPROVAL
    assert not PodEviction.objects.filter(request=request).exists()
    assert [n["unschedulable"] for n in sim.state()["nodes"] if n["name"] == "node-2"] == [False]


def test_no_policy_means_automatic(rita, cluster):
    assert submit(rita, cluster).status == RequestStatus.SCHEDULED


def test_the_default_policy_applies_to_clusters_without_their_own(rita, cluster):
    policy_set(actor=System("test"), cluster_id=None, data=PolicyInput(required_approvals=2))
    request = submit(rita, cluster)
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert "Needs 2 approval(s)" in request.status_reason


def test_self_approval_is_refused_and_records_nothing(alice, cluster):
    needs(cluster, 1)
    own = submit(alice, cluster)  # alice is an admin: she may approve, but not her own request
    with pytest.raises(PermissionDenied, match="your own request"):
        request_approve(actor=alice, request_id=own.pk)
    with pytest.raises(PermissionDenied, match="your own request"):
        request_reject(actor=alice, request_id=own.pk, comment="no")
    assert not Approval.objects.exists()
    assert status(own) == RequestStatus.AWAITING_APPROVAL


def test_one_vote_per_person(rita, adam, cluster):
    needs(cluster, 2)
    request = submit(rita, cluster)
    request_approve(actor=adam, request_id=request.pk, comment="looks fine")
    with pytest.raises(ValidationError, match="already voted"):
        request_approve(actor=adam, request_id=request.pk)
    assert Approval.objects.filter(request=request).count() == 1
    assert status(request) == RequestStatus.AWAITING_APPROVAL


def test_two_of_many_approvers(rita, adam, alice, cluster, django_capture_on_commit_callbacks):
    needs(cluster, 2)
    request = submit(rita, cluster)
    request_approve(actor=adam, request_id=request.pk)
    assert status(request) == RequestStatus.AWAITING_APPROVAL
    assert "1 of 2" in EvictionRequest.objects.get(pk=request.pk).status_reason
    with django_capture_on_commit_callbacks() as callbacks:
        request_approve(actor=alice, request_id=request.pk)
    assert status(request) == RequestStatus.SCHEDULED
    assert callbacks, "a due request is started once it is approved"
    actions = list(AuditEvent.objects.filter(object_id=str(request.pk)).values_list("action", flat=True))
    assert actions.count("request.approve") == 2


@pytest.mark.parametrize("role", ["rita", "vera", "olga", "nora"])
def test_only_approvers_and_admins_may_vote(role, request, cluster):
    needs(cluster, 1)
    other = UserFactory(roles=["requester"])
    pending = submit(other, cluster)
    with pytest.raises(PermissionDenied):
        request_approve(actor=request.getfixturevalue(role), request_id=pending.pk)


def test_approver_not_named_by_the_policy_is_refused(rita, adam, cluster):
    named = UserFactory(roles=["approver"], username="bea")
    needs(cluster, 1, approver_users=("bea",))
    request = submit(rita, cluster)
    with pytest.raises(PermissionDenied, match="not among the approvers"):
        request_approve(actor=adam, request_id=request.pk)
    request_approve(actor=named, request_id=request.pk)
    assert status(request) == RequestStatus.SCHEDULED


def test_an_expired_approval_sends_the_request_back_at_execution_and_can_be_renewed(rita, adam, cluster):
    needs(cluster, 1, approval_valid_minutes=1)
    request = submit(rita, cluster)
    request_approve(actor=adam, request_id=request.pk)
    assert status(request) == RequestStatus.SCHEDULED
    Approval.objects.filter(request=request).update(created_at=timezone.now() - timedelta(minutes=2))
    request_start(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert "expired: adam" in request.status_reason
    assert not PodEviction.objects.filter(request=request).exists()
    assert AuditEvent.objects.filter(action="request.approval_lapsed", object_id=str(request.pk)).exists()
    request_approve(actor=adam, request_id=request.pk, comment="still fine")  # renews the same vote
    assert status(request) == RequestStatus.SCHEDULED
    assert Approval.objects.filter(request=request).count() == 1


def test_an_approver_removed_from_the_group_before_execution_no_longer_counts(rita, adam, cluster):
    needs(cluster, 1, approver_groups=("approver",))
    request = submit(rita, cluster)
    request_approve(actor=adam, request_id=request.pk)
    assert status(request) == RequestStatus.SCHEDULED
    adam.groups.remove(Group.objects.get(name="approver"))
    request_start(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert "no longer allowed to approve: adam" in request.status_reason


def test_a_paused_cluster_holds_an_approved_request(rita, adam, cluster):
    from clusters.services import cluster_pause

    needs(cluster, 1)
    request = submit(rita, cluster)
    cluster_pause(actor=System("test"), cluster=cluster, reason="incident 7")
    request_approve(actor=adam, request_id=request.pk)
    request_start(request_id=request.pk)
    request.refresh_from_db()
    assert request.status == RequestStatus.SCHEDULED
    assert "paused" in request.status_reason and "incident 7" in request.status_reason


def test_a_rejection_ends_the_request(rita, adam, alice, cluster):
    needs(cluster, 2)
    request = submit(rita, cluster)
    with pytest.raises(ValidationError, match="comment"):
        request_reject(actor=adam, request_id=request.pk, comment=" ")
    request_reject(actor=adam, request_id=request.pk, comment="not during the sale")
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED and request.finished_at is not None
    assert "not during the sale" in request.status_reason
    with pytest.raises(ValidationError, match="not waiting for approval"):
        request_approve(actor=alice, request_id=request.pk)
    request_start(request_id=request.pk)
    assert status(request) == RequestStatus.REJECTED


def test_the_inbox_lists_what_i_may_approve(rita, adam, alice, cluster):
    needs(cluster, 1)
    theirs = submit(rita, cluster)
    own = submit(alice, cluster, node="node-3")
    assert [r.pk for r in approval_services.requests_awaiting_me(adam)] == [theirs.pk, own.pk]
    assert [r.pk for r in approval_services.requests_awaiting_me(alice)] == [theirs.pk]  # never her own
    assert approval_services.requests_awaiting_me(rita) == []  # requesters do not approve


# ---- the database refuses what the services refuse --------------------------------------------------------------


def test_the_database_refuses_a_self_approval(rita, cluster):
    needs(cluster, 1)
    request = submit(rita, cluster)
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(
            request=request, requester=rita, approver=rita, decision="approve", created_at=timezone.now()
        )


def test_the_database_refuses_a_false_requester(rita, adam, vera, cluster):
    """Naming someone else as the requester does not get a self-approval past the database."""
    needs(cluster, 1)
    request = submit(rita, cluster)
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(
            request=request, requester=vera, approver=rita, decision="approve", created_at=timezone.now()
        )


def test_the_database_refuses_a_second_vote(rita, adam, cluster):
    needs(cluster, 2)
    request = submit(rita, cluster)
    Approval.objects.create(
        request=request, requester=rita, approver=adam, decision="approve", created_at=timezone.now()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Approval.objects.create(
            request=request, requester=rita, approver=adam, decision="approve", created_at=timezone.now()
        )


# ---- direct deletes that need approval -----------------------------------------------------------------------------


def _running_pod(rita, cluster, django_capture_on_commit_callbacks) -> PodEviction:
    request = submit(rita, cluster, node="node-3")
    with django_capture_on_commit_callbacks():
        request_start(request_id=request.pk)
    return PodEviction.objects.filter(request=request, status=PodStatus.PENDING).order_by("pk").first()


def test_a_direct_delete_waits_for_another_persons_approval(
    rita, olga, adam, alice, cluster, sim, django_capture_on_commit_callbacks
):
    needs(cluster, 0, delete_needs_approval=True)
    pod = _running_pod(rita, cluster, django_capture_on_commit_callbacks)
    # alice is an admin: she may delete directly and approve, but not approve her own ask.
    asked = pod_services.pod_force_delete(actor=alice, pod_id=pod.pk, reason="stuck for 2h", confirm_name=pod.name)
    assert asked.delete_requested_at is not None and asked.status == PodStatus.PENDING
    assert any(p["name"] == pod.name for p in sim.state()["pods"]), "nothing is deleted before the approval"
    with pytest.raises(ValidationError, match="already waits"):
        pod_services.pod_force_delete(actor=olga, pod_id=pod.pk, reason="again", confirm_name=pod.name)
    with pytest.raises(PermissionDenied, match="you asked for"):
        pod_services.pod_delete_approve(actor=alice, pod_id=pod.pk)
    with pytest.raises(PermissionDenied):  # operators delete; they do not approve
        pod_services.pod_delete_approve(actor=olga, pod_id=pod.pk)
    assert [p.pk for p in approval_services.pod_deletes_awaiting_me(adam)] == [pod.pk]
    with django_capture_on_commit_callbacks():
        deleted = pod_services.pod_delete_approve(actor=adam, pod_id=pod.pk, comment="ok")
    assert deleted.status == PodStatus.TERMINATING
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"pod.force_delete_requested", "pod.force_delete_approve", "pod.force_delete"} <= actions
    with pytest.raises(ValidationError):
        pod_services.pod_delete_approve(actor=adam, pod_id=pod.pk)


def test_a_refused_direct_delete_leaves_the_pod_alone(
    rita, olga, adam, cluster, sim, django_capture_on_commit_callbacks
):
    needs(cluster, 0, delete_needs_approval=True)
    pod = _running_pod(rita, cluster, django_capture_on_commit_callbacks)
    pod_services.pod_force_delete(actor=olga, pod_id=pod.pk, reason="stuck", confirm_name=pod.name)
    refused = pod_services.pod_delete_reject(actor=adam, pod_id=pod.pk, comment="wait for the budget")
    assert refused.delete_requested_at is None and "wait for the budget" in refused.note
    assert any(p["name"] == pod.name for p in sim.state()["pods"])
    assert approval_services.pod_deletes_awaiting_me(adam) == []


def test_an_approved_delete_the_cluster_refuses_stays_approved_and_the_approver_retries(
    rita, adam, alice, cluster, sim, django_capture_on_commit_callbacks
):
    needs(cluster, 0, delete_needs_approval=True)
    pod = _running_pod(rita, cluster, django_capture_on_commit_callbacks)
    pod_services.pod_force_delete(actor=alice, pod_id=pod.pk, reason="stuck", confirm_name=pod.name)
    sim.inject_fault("forbidden", count=1, method="DELETE", path=f"/pods/{pod.name}$")
    with pytest.raises(ValidationError, match="refused the delete"):
        pod_services.pod_delete_approve(actor=adam, pod_id=pod.pk)
    kept = PodEviction.objects.get(pk=pod.pk)
    assert kept.delete_requested_at is not None and kept.status == PodStatus.PENDING
    assert Approval.objects.filter(pod=pod, approver=adam).count() == 1
    with django_capture_on_commit_callbacks():
        retried = pod_services.pod_delete_approve(actor=adam, pod_id=pod.pk)  # the same vote, tried again
    assert retried.status == PodStatus.TERMINATING and retried.delete_requested_at is None
    assert Approval.objects.filter(pod=pod).count() == 1


def test_a_direct_delete_approved_by_two_people_names_both(
    rita, olga, adam, cluster, sim, django_capture_on_commit_callbacks
):
    needs(cluster, 2, delete_needs_approval=True)
    request = submit(rita, cluster, node="node-3")
    for approver in (adam, UserFactory(username="bella", roles=["approver"])):
        request_approve(actor=approver, request_id=request.pk)
    with django_capture_on_commit_callbacks():
        request_start(request_id=request.pk)
    pod = PodEviction.objects.filter(request=request, status=PodStatus.PENDING).order_by("pk").first()
    pod_services.pod_force_delete(actor=olga, pod_id=pod.pk, reason="stuck", confirm_name=pod.name)
    pod_services.pod_delete_approve(actor=adam, pod_id=pod.pk)
    bella = UserFactory._meta.model.objects.get(username="bella")
    with django_capture_on_commit_callbacks():
        deleted = pod_services.pod_delete_approve(actor=bella, pod_id=pod.pk)
    assert deleted.status == PodStatus.TERMINATING
    assert deleted.note == "Deleted directly by bella: stuck (asked by olga, approved by adam and bella)"
    event = AuditEvent.objects.get(action="pod.force_delete")
    assert event.details["approved_by"] == ["adam", "bella"]


# ---- a changed policy rewrites what awaiting requests say --------------------------------------------------------


def test_a_changed_policy_rewrites_the_words_of_the_requests_awaiting_under_it(rita, cluster):
    needs(cluster, 1)
    request = submit(rita, cluster)
    assert request.status_reason == "Needs 1 approval(s) from another person."
    needs(cluster, 2)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    assert request.status_reason == "0 of 2 approval(s); needs 2 more."
    event = AuditEvent.objects.filter(action="policy.update").latest("sequence")
    assert event.details["awaiting_requests_reworded"] == [request.pk]


def test_a_policy_lowered_to_none_leaves_the_request_waiting_for_a_person_and_says_so(rita, cluster):
    needs(cluster, 1)
    request = submit(rita, cluster)
    needs(cluster, 0)
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL  # nothing starts by itself on a policy change
    assert "now needs no approval" in request.status_reason


def test_the_default_policy_rewrites_only_requests_on_clusters_without_their_own(rita, cluster, sim):
    other = register_sim(sim, name="other", qps_limit=50)
    policy_set(actor=System("test"), cluster_id=None, data=PolicyInput(required_approvals=1))
    needs(other, 1)
    on_default, on_own = submit(rita, cluster), submit(rita, other, node="node-3")
    policy_set(actor=System("test"), cluster_id=None, data=PolicyInput(required_approvals=3))
    on_default.refresh_from_db()
    on_own.refresh_from_db()
    assert on_default.status_reason == "0 of 3 approval(s); needs 3 more."
    assert on_own.status_reason == "Needs 1 approval(s) from another person."


def test_resetting_a_clusters_policy_rewrites_its_awaiting_requests_to_the_default(rita, cluster):
    policy_set(actor=System("test"), cluster_id=None, data=PolicyInput(required_approvals=2))
    needs(cluster, 1)
    request = submit(rita, cluster)
    approval_services.policy_reset(actor=System("test"), cluster_id=cluster.pk)
    request.refresh_from_db()
    assert request.status_reason == "0 of 2 approval(s); needs 2 more."
