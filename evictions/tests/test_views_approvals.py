"""Approval pages: the inbox lists what the viewer may decide (with the stored plan), votes from the inbox and the
request page, refusals as messages (own request, second vote, not an approver) that record nothing, direct-delete
asks, the new-request form's schedule choice, and bounded queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from evictions.models import Approval, ApprovalPolicy, EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.services.approvals import pod_deletes_awaiting_me, requests_awaiting_me
from tests.factories import ClusterFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()

PLAN = {
    "kind": "drain",
    "node": "node-2",
    "ok": True,
    "errors": [],
    "warnings": ["1 DaemonSet-managed pod is ignored."],
    "counts": {"evict": 2, "wait": 0, "skip": 1},
    "pods": [
        {
            "namespace": "shop",
            "name": "web-1",
            "node": "node-2",
            "phase": "Running",
            "ready": True,
            "disposition": "evict",
            "reason": "managed by ReplicaSet shop/web",
            "warning": "",
            "error": "",
            "blocked_now": False,
            "multiple_pdbs": False,
            "waits_for_budget": True,
            "words": "shop/web-pdb needs 2 healthy pods and has 3",
            "dry_run": {"status": 201, "message": "", "budget": ""},
        },
        {
            "namespace": "shop",
            "name": "<b>web-2</b>",
            "node": "node-2",
            "phase": "Running",
            "ready": True,
            "disposition": "evict",
            "reason": "managed by ReplicaSet shop/web",
            "warning": "",
            "error": "",
            "blocked_now": True,
            "multiple_pdbs": False,
            "waits_for_budget": False,
            "words": "shop/web-pdb allows no disruption",
            "dry_run": {"status": 429, "message": "Cannot evict pod", "budget": "shop/web-pdb needs 2, has 2"},
        },
    ],
}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def cluster():
    created = ClusterFactory(name="prod")
    ApprovalPolicy.objects.create(cluster=created, required_approvals=1)
    return created


def awaiting(cluster, requester, **fields) -> EvictionRequest:
    values = {
        "kind": "drain",
        "node": "node-2",
        "reason": "kernel upgrade",
        "status": RequestStatus.AWAITING_APPROVAL,
        "status_reason": "Needs 1 approval(s) from another person.",
        "plan": PLAN,
    }
    values.update(fields)
    return EvictionRequest.objects.create(cluster=cluster, requester=requester, **values)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# ---- the inbox -----------------------------------------------------------------------------------------------------


def test_inbox_lists_only_others_requests_the_user_may_approve(cluster, rita, adam, alice):
    mine = awaiting(cluster, rita)
    by_admin = awaiting(cluster, alice, node="node-3")
    own = awaiting(cluster, adam, node="node-4")  # adam's own: never his to approve
    scheduled = awaiting(cluster, rita, status=RequestStatus.SCHEDULED, node="node-5")
    restricted = ClusterFactory(name="payments")
    policy = ApprovalPolicy.objects.create(cluster=restricted, required_approvals=1)
    policy.approver_users.set([alice])
    elsewhere = awaiting(restricted, rita, node="node-6")

    response = signed_in(adam).get(reverse("approvals"))
    assert response.status_code == 200
    listed = [row["req"].pk for row in response.context["rows"]]
    assert listed == [mine.pk, by_admin.pk]
    assert own.pk not in listed and scheduled.pk not in listed and elsewhere.pk not in listed
    html = response.content.decode()
    assert f'id="approval-{mine.pk}"' in html
    assert "kernel upgrade" in html and "rita" in html
    assert "0 of 1 approval(s); needs 1 more." in html
    # The stored plan and its budget check, as the Preview showed them, one table per request.
    assert f'id="plan-{mine.pk}-pods"' in html and f'id="plan-{by_admin.pk}-pods"' in html
    assert "shop/web-pdb allows no disruption" in html and "blocked now" in html
    assert "&lt;b&gt;web-2&lt;/b&gt;" in html and "<b>web-2</b>" not in html  # what the cluster said is escaped
    assert f'action="{reverse("request-approve", args=[mine.pk])}"' in html
    assert f'action="{reverse("request-reject", args=[mine.pk])}"' in html
    # alice, allowed on payments, sees that one too; never her own.
    rows = signed_in(alice).get(reverse("approvals")).context["rows"]
    assert [row["req"].pk for row in rows] == [mine.pk, own.pk, elsewhere.pk]


def test_requester_sees_her_own_waiting_requests_and_no_buttons(cluster, rita):
    request = awaiting(cluster, rita)
    response = signed_in(rita).get(reverse("approvals"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "You cannot approve" in html
    assert f'href="{reverse("request-detail", args=[request.pk])}"' in html
    assert "request-approve" not in html and "Approve #" not in html


def test_approve_from_the_inbox_schedules_the_request_and_says_so(cluster, rita, adam):
    request = awaiting(cluster, rita)
    response = signed_in(adam).post(reverse("request-approve", args=[request.pk]), {"comment": "go ahead"})
    assert response.status_code == 302 and response["Location"] == reverse("approvals")
    assert messages_of(response)[-1] == f"You approved request #{request.pk}."
    request.refresh_from_db()
    assert request.status == RequestStatus.SCHEDULED
    vote = Approval.objects.get(request=request)
    assert (vote.approver.username, vote.decision, vote.comment) == ("adam", "approve", "go ahead")
    assert signed_in(adam).get(reverse("approvals")).context["rows"] == []


def test_reject_needs_a_comment_then_ends_the_request(cluster, rita, adam):
    request = awaiting(cluster, rita)
    client = signed_in(adam)
    response = client.post(reverse("request-reject", args=[request.pk]), {"comment": "  "})
    assert response.status_code == 302
    assert "Say why" in messages_of(response)[-1]
    assert not Approval.objects.exists()
    response = client.post(reverse("request-reject", args=[request.pk]), {"comment": "not during the sale"})
    assert messages_of(response)[-1] == f"You rejected request #{request.pk}; it will not run."
    request.refresh_from_db()
    assert request.status == RequestStatus.REJECTED
    assert "not during the sale" in request.status_reason


def test_self_approval_by_post_is_a_clear_message_and_records_nothing(cluster, alice):
    request = awaiting(cluster, alice)  # alice (admin) may request and approve, but never her own
    client = signed_in(alice)
    for name in ("request-approve", "request-reject"):
        response = client.post(reverse(name, args=[request.pk]), {"comment": "mine"}, follow=True)
        assert response.status_code == 200
        assert "You cannot approve or reject your own request" in response.content.decode()
    assert not Approval.objects.exists()
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL


def test_second_vote_and_not_an_approver_are_messages_not_errors(cluster, rita, adam, alice):
    cluster.approval_policy.required_approvals = 2
    cluster.approval_policy.save()
    request = awaiting(cluster, rita)
    client = signed_in(adam)
    client.post(reverse("request-approve", args=[request.pk]))
    response = client.post(reverse("request-approve", args=[request.pk]))
    assert "already voted" in messages_of(response)[-1]
    assert Approval.objects.count() == 1

    cluster.approval_policy.approver_users.set([alice])  # adam is no longer among this cluster's approvers
    other = awaiting(cluster, rita, node="node-3")
    response = client.post(reverse("request-approve", args=[other.pk]))
    assert response.status_code == 302
    assert "not among the approvers" in messages_of(response)[-1]
    assert not Approval.objects.filter(request=other).exists()


def test_viewer_and_requester_cannot_vote(cluster, rita, vera):
    request = awaiting(cluster, rita)
    pod = PodEviction.objects.create(request=request, namespace="shop", name="web-1", uid="u1")
    for user in (vera, rita):
        client = signed_in(user)
        for name, pk in (
            ("request-approve", request.pk),
            ("request-reject", request.pk),
            ("pod-delete-approve", pod.pk),
            ("pod-delete-reject", pod.pk),
        ):
            assert client.post(reverse(name, args=[pk]), {"comment": "x"}).status_code == 403
    assert signed_in(vera).get(reverse("approvals")).status_code == 200  # reading is fine
    assert not Approval.objects.exists()


def test_votes_on_missing_requests_are_404(adam):
    assert signed_in(adam).post(reverse("request-approve", args=[999])).status_code == 404
    assert signed_in(adam).get(reverse("request-approve", args=[1])).status_code == 405


def test_inbox_queries_stay_bounded_with_many_requests(adam, alice, rita, olga, django_assert_max_num_queries):
    clusters = [ClusterFactory(name=f"c{n}") for n in range(3)]
    approvers = Group.objects.get(name="approver")
    for n, cluster in enumerate(clusters):
        policy = ApprovalPolicy.objects.create(cluster=cluster, required_approvals=2)
        if n == 0:
            policy.approver_groups.set([approvers, Group.objects.get(name="admin")])
        for node in range(4):
            request = awaiting(cluster, rita, node=f"node-{node}")
            Approval.objects.create(
                request=request, requester=rita, approver=alice, decision="approve", created_at=timezone.now()
            )
            pod = PodEviction.objects.create(
                request=request,
                namespace="shop",
                name=f"web-{node}",
                uid=f"u{n}{node}",
                delete_requested_by=olga,
                delete_requested_at=timezone.now(),
                delete_reason="stuck",
            )
            assert pod.delete_requested_at
    client = signed_in(adam)
    client.get(reverse("approvals"))  # warm the session and permission caches
    with CaptureQueriesContext(connection) as services:
        requests_awaiting_me(User.objects.get(pk=adam.pk))
        pod_deletes_awaiting_me(User.objects.get(pk=adam.pk))
    with django_assert_max_num_queries(40) as page:
        response = client.get(reverse("approvals"))
    # What the page reads besides the two inbox services stays constant however many rows there are.
    assert len(page.captured_queries) - len(services) <= 10
    assert len(response.context["rows"]) == 12
    assert len(response.context["deletes"]) == 12
    assert response.content.decode().count("1 of 2 approval(s); needs 1 more.") == 12


# ---- the request page ----------------------------------------------------------------------------------------------


def test_request_page_shows_the_approval_state_and_buttons_only_to_approvers(cluster, rita, adam):
    request = awaiting(cluster, rita)
    url = reverse("request-detail", args=[request.pk])
    html = signed_in(adam).get(url).content.decode()
    assert 'id="approval-state"' in html and "Awaiting approval" in html
    assert "0 of 1 approval(s); needs 1 more." in html
    assert "anyone with the approver or admin role" in html
    assert "Approve request" in html and "Reject request" in html
    assert 'id="stored-plan"' in html and "shop/web-pdb allows no disruption" in html
    assert "As soon as approved" in html

    html = signed_in(rita).get(url).content.decode()
    assert "0 of 1 approval(s); needs 1 more." in html
    assert "You cannot approve your own request" in html
    assert "Approve request" not in html


def test_approve_from_the_request_page_returns_to_it_and_lists_the_vote(cluster, rita, adam):
    request = awaiting(cluster, rita)
    url = reverse("request-detail", args=[request.pk])
    client = signed_in(adam)
    response = client.post(reverse("request-approve", args=[request.pk]), {"comment": "ok <3", "next": url})
    assert response["Location"] == url
    html = client.get(url).content.decode()
    assert 'id="approval-votes"' in html
    assert "adam" in html and "Approved" in html and "ok &lt;3" in html
    assert "Approve request" not in html  # decided: the buttons are gone
    # An off-site next is ignored.
    other = awaiting(cluster, rita, node="node-3")
    response = client.post(reverse("request-approve", args=[other.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("approvals")


def test_live_refresh_swaps_the_buttons_once_the_viewer_may_no_longer_vote(cluster, rita, adam):
    request = awaiting(cluster, rita)
    url = reverse("request-detail", args=[request.pk])
    client = signed_in(adam)
    assert client.get(url).context["actions_key"] == "awaiting_approval.0.vote"
    client.post(reverse("request-approve", args=[request.pk]))
    html = client.get(url, {"k": "awaiting_approval.0.vote"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-swap-oob="true"' in html and "Approve request" not in html


def test_request_page_shows_the_schedule_queue_and_window_end(rita):
    cluster = ClusterFactory(name="prod")
    now = timezone.now()
    running = EvictionRequest.objects.create(
        cluster=cluster,
        requester=rita,
        kind="drain",
        node="node-1",
        reason="r",
        status=RequestStatus.RUNNING,
        started_at=now,
        schedule="window",
        window_ends_at=now + timedelta(hours=1),
    )
    first = EvictionRequest.objects.create(cluster=cluster, requester=rita, kind="drain", node="node-2", reason="r")
    second = EvictionRequest.objects.create(cluster=cluster, requester=rita, kind="drain", node="node-3", reason="r")
    later = EvictionRequest.objects.create(
        cluster=cluster, requester=rita, kind="drain", node="node-4", reason="r", not_before=now + timedelta(days=1)
    )
    client = signed_in(rita)
    html = client.get(reverse("request-detail", args=[running.pk])).content.decode()
    assert 'id="request-window"' in html and "maintenance window closes at" in html
    html = client.get(reverse("request-detail", args=[second.pk])).content.decode()
    assert "Number 2 in line" in html and "drains 1 node at once" in html
    assert "Number 1 in line" in client.get(reverse("request-detail", args=[first.pk])).content.decode()
    html = client.get(reverse("request-detail", args=[later.pk])).content.decode()
    assert "in line" not in html and "Not before" in html


def test_request_page_says_a_direct_delete_awaits_approval(cluster, rita, olga, adam):
    request = awaiting(cluster, rita, status=RequestStatus.RUNNING, started_at=timezone.now())
    PodEviction.objects.create(
        request=request,
        namespace="shop",
        name="web-1",
        uid="u1",
        status=PodStatus.BLOCKED,
        delete_requested_by=olga,
        delete_requested_at=timezone.now(),
        delete_reason="stuck for an hour",
    )
    html = signed_in(adam).get(reverse("request-detail", args=[request.pk])).content.decode()
    assert "Direct delete awaits approval (asked by olga)" in html
    assert "decide on the Approvals page" in html and "Approve delete of web-1" in html
    html = signed_in(olga).get(reverse("request-detail", args=[request.pk])).content.decode()
    assert "Direct delete awaits approval (asked by olga)" in html and "Approve delete of web-1" not in html


# ---- direct-delete asks --------------------------------------------------------------------------------------------


@pytest.fixture
def delete_ask(cluster, rita, olga):
    cluster.approval_policy.delete_needs_approval = True
    cluster.approval_policy.save()
    request = awaiting(cluster, rita, status=RequestStatus.RUNNING, started_at=timezone.now())
    return PodEviction.objects.create(
        request=request,
        namespace="shop",
        name="web-1",
        uid="u1",
        status=PodStatus.BLOCKED,
        blocking_pdb="shop/web-pdb",
        delete_requested_by=olga,
        delete_requested_at=timezone.now(),
        delete_reason="blocked for an hour; owners agree",
    )


def test_inbox_lists_direct_delete_asks_of_others(delete_ask, adam, olga):
    html = signed_in(adam).get(reverse("approvals")).content.decode()
    assert f'id="delete-ask-{delete_ask.pk}"' in html
    assert "blocked for an hour; owners agree" in html and "olga" in html and "0 of 1" in html
    assert "Approve delete of web-1" in html
    assert signed_in(olga).get(reverse("approvals")).status_code == 200  # olga is no approver: no inbox, no 500


def test_refusing_a_direct_delete_keeps_the_pod_and_says_so(delete_ask, adam):
    client = signed_in(adam)
    response = client.post(reverse("pod-delete-reject", args=[delete_ask.pk]), {"comment": ""})
    assert "Say why" in messages_of(response)[-1]
    response = client.post(reverse("pod-delete-reject", args=[delete_ask.pk]), {"comment": "wait for the rollout"})
    assert messages_of(response)[-1] == "You refused deleting shop/web-1 directly; it keeps waiting for its budget."
    delete_ask.refresh_from_db()
    assert delete_ask.delete_requested_at is None and "wait for the rollout" in delete_ask.note
    assert signed_in(adam).get(reverse("approvals")).context["deletes"] == []


def test_approving_a_direct_delete_on_an_unreachable_cluster_is_a_message(delete_ask, adam):
    delete_ask.request.cluster.api_url = "https://127.0.0.1:1"  # nothing listens: refused at once
    delete_ask.request.cluster.save()
    client = signed_in(adam)
    response = client.post(reverse("pod-delete-approve", args=[delete_ask.pk]), {"comment": "ok"})
    assert response.status_code == 302
    message = messages_of(response)[-1]
    assert message.startswith("shop/web-1 was not deleted: The cluster refused the delete")
    assert message.endswith("Your approval stands: approve again to retry.")
    # The ask stays; the approver retries from the request page (his vote keeps it off his inbox).
    url = reverse("request-detail", args=[delete_ask.request_id])
    assert "Approve delete of web-1" in client.get(url).content.decode()
    response = client.post(reverse("pod-delete-approve", args=[delete_ask.pk]), {"next": url})
    assert response["Location"] == url and "approve again to retry" in messages_of(response)[-1]
    assert Approval.objects.filter(pod=delete_ask).count() == 1


def test_operator_asking_for_a_direct_delete_is_told_it_waits_for_approval(delete_ask, olga):
    other = PodEviction.objects.create(
        request=delete_ask.request, namespace="shop", name="web-2", uid="u2", status=PodStatus.BLOCKED
    )
    response = signed_in(olga).post(
        reverse("pod-force-delete", args=[other.pk]), {"confirm_name": "web-2", "reason": "stuck", "grace": ""}
    )
    assert response.status_code == 302
    assert "another person must approve it first" in messages_of(response)[-1]
    other.refresh_from_db()
    assert other.delete_requested_by == olga and other.status == PodStatus.BLOCKED


# ---- the new-request form's schedule -------------------------------------------------------------------------------


def form_data(cluster, **fields):
    data = {
        "cluster": cluster.pk,
        "kind": "drain",
        "node": "node-2",
        "ignore_daemonsets": "on",
        "reason": "kernel upgrade",
        "deadline_minutes": "30",
        "action": "submit",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"schedule": "window"}, "schedule", "has no maintenance windows"),
        ({"schedule": "not_before"}, "not_before", "Give the time"),
        ({"schedule": "now", "not_before": "2030-01-01T02:00"}, "not_before", "Choose “Not before a given time”"),
        ({"schedule": "sometime"}, "schedule", "Select a valid choice"),
    ],
)
def test_schedule_errors_show_on_their_field(rita, fields, field, words):
    cluster = ClusterFactory(name="prod")  # never contacted: the input is refused first
    response = signed_in(rita).post(reverse("request-new"), form_data(cluster, **fields))
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors.get(field, [])), response.context["form"].errors
    assert not EvictionRequest.objects.exists()


def test_windows_only_cluster_refuses_other_schedules_on_the_schedule_field(rita):
    cluster = ClusterFactory(name="prod")
    ApprovalPolicy.objects.create(cluster=cluster, windows_only=True)
    response = signed_in(rita).post(reverse("request-new"), form_data(cluster, schedule="now"))
    assert "only in maintenance windows" in " ".join(response.context["form"].errors["schedule"])


def test_new_request_form_offers_the_three_schedules(rita):
    html = signed_in(rita).get(reverse("request-new")).content.decode()
    for value in ("now", "not_before", "window"):
        assert f'name="schedule" value="{value}"' in html
    assert "In the next maintenance window" in html


def test_inbox_is_for_signed_in_readers_only(client, nora):
    assert client.get(reverse("approvals")).status_code == 302
    assert signed_in(nora).get(reverse("approvals")).status_code == 403


@pytest.fixture
def approver_bob():
    return UserFactory(username="bob", roles=["approver"])


def test_two_approvers_are_both_needed_when_the_policy_says_two(cluster, rita, adam, approver_bob):
    cluster.approval_policy.required_approvals = 2
    cluster.approval_policy.save()
    request = awaiting(cluster, rita)
    signed_in(adam).post(reverse("request-approve", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL
    html = signed_in(approver_bob).get(reverse("approvals")).content.decode()
    assert "1 of 2 approval(s); needs 1 more." in html and "adam approved" in html
    signed_in(approver_bob).post(reverse("request-approve", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == RequestStatus.SCHEDULED
