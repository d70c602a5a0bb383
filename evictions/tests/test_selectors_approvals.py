"""The approval selectors read in bulk what services.approvals.request_tally reads one request at a time: the two
must always agree (the inbox and the start check must never disagree on whether a request is approved)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from evictions.models import Approval, ApprovalPolicy, EvictionRequest, RequestStatus
from evictions.selectors import approval_states, approvers_words, cluster_policy
from evictions.services.approvals import request_tally
from tests.factories import ClusterFactory, UserFactory

pytestmark = pytest.mark.django_db


def vote(request, approver, *, minutes_ago=0, decision="approve"):
    return Approval.objects.create(
        request=request,
        requester=request.requester,
        approver=approver,
        decision=decision,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def test_bulk_tallies_agree_with_the_service(rita, adam, alice, vera):
    bob = UserFactory(username="bob", roles=["approver"])
    gone = UserFactory(username="gone", roles=["approver"])
    gone.is_active = False
    gone.save()
    open_policy = ClusterFactory(name="open")
    ApprovalPolicy.objects.create(cluster=open_policy, required_approvals=2, approval_valid_minutes=60)
    named = ClusterFactory(name="named")
    policy = ApprovalPolicy.objects.create(cluster=named, required_approvals=2)
    policy.approver_groups.set([Group.objects.get(name="admin")])
    policy.approver_users.set([bob])
    defaulted = ClusterFactory(name="defaulted")
    ApprovalPolicy.objects.create(cluster=None, required_approvals=1)
    requests = []
    for cluster in (open_policy, named, defaulted):
        request = EvictionRequest.objects.create(
            cluster=cluster, requester=rita, kind="drain", node="n", reason="r", status=RequestStatus.AWAITING_APPROVAL
        )
        vote(request, adam, minutes_ago=90)  # expired where approvals hold an hour; not named on "named"
        vote(request, alice)
        vote(request, bob, minutes_ago=5)
        vote(request, gone)
        vote(request, vera)  # a viewer: holds no approve permission
        requests.append(request)
    rejected = EvictionRequest.objects.create(
        cluster=named, requester=rita, kind="drain", node="n", reason="r", status=RequestStatus.AWAITING_APPROVAL
    )
    vote(rejected, alice, decision="reject")
    requests.append(rejected)
    states = approval_states(requests)
    for request in requests:
        expected = request_tally(request)
        got = states[request.pk].tally
        assert (got.words(), got.approved, got.valid, got.expired, got.no_longer_allowed, got.rejected_by) == (
            expected.words(),
            expected.approved,
            expected.valid,
            expected.expired,
            expected.no_longer_allowed,
            expected.rejected_by,
        ), request.cluster.name
    assert states[requests[1].pk].tally.valid == ("bob", "alice")  # oldest vote first


def test_policy_in_words_says_where_it_comes_from(alice):
    cluster = ClusterFactory(name="prod")
    assert cluster_policy(cluster)["scope"] == "built-in"
    ApprovalPolicy.objects.create(cluster=None, required_approvals=1)
    assert cluster_policy(cluster)["scope"] == "default"
    own = ApprovalPolicy.objects.create(cluster=cluster, required_approvals=2)
    found = cluster_policy(cluster)
    assert (found["scope"], found["policy"].pk) == ("own", own.pk)
    assert approvers_words(own) == "anyone with the approver or admin role"
    own.approver_groups.set(Group.objects.filter(name__in=["approver", "admin"]))
    own.approver_users.set([alice])
    assert approvers_words(own) == "the admin, approver roles or alice"
