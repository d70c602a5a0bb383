"""Request and pod services without a worker: validation, permissions, state guards, audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions, PodTarget
from evictions.services import pods as pod_services
from evictions.services import requests as request_services
from evictions.services.requests import RequestInput, request_create, request_start
from kubesim import Simulator
from tests.kubesim_cluster import register_sim

ALL = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)


@pytest.fixture
def sim():
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim, db):
    created = register_sim(sim, name="demo", qps_limit=10)
    return created


def drain(cluster, **overrides) -> RequestInput:
    values = {"cluster": cluster, "kind": "drain", "reason": "patching", "node": "node-2", "options": ALL}
    values.update(overrides)
    return RequestInput(**values)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"reason": "  "}, "reason"),
        ({"reason": "x" * 2001}, "reason"),
        ({"reason": "bad\x00reason"}, "reason"),
        ({"kind": "explode"}, "kind"),
        ({"node": ""}, "node"),
        ({"node": "Node_2"}, "node"),
        ({"deadline_minutes": 0}, "deadline_minutes"),
        ({"options": DrainOptions(grace_period_seconds=-5)}, "grace_period_seconds"),
        ({"options": DrainOptions(pod_selector="a=b=c")}, "pod_selector"),
        ({"targets": (PodTarget("shop", "web"),)}, "targets"),
        ({"kind": "pods", "node": "", "targets": ()}, "targets"),
        ({"kind": "pods", "node": "", "targets": (PodTarget("Bad NS", "x"),)}, "targets"),
        ({"kind": "pods", "node": "", "targets": (PodTarget("shop", "x", "app=web"),)}, "targets"),
        ({"not_before": timezone.now().replace(tzinfo=None)}, "not_before"),
    ],
)
def test_bad_input_is_refused_by_field_and_stores_nothing(rita, cluster, overrides, field):
    with pytest.raises(ValidationError) as raised:
        request_create(actor=rita, data=drain(cluster, **overrides))
    assert field in raised.value.message_dict
    assert not EvictionRequest.objects.exists()


def test_drain_without_options_is_refused_as_kubectl_would(rita, cluster):
    with pytest.raises(ValidationError) as raised:
        request_create(actor=rita, data=drain(cluster, options=DrainOptions()))
    text = " ".join(raised.value.message_dict["plan"])
    assert "DaemonSet" in text and "local storage" in text and "no controller" in text
    assert not EvictionRequest.objects.exists()


def test_unreachable_cluster_is_a_clear_error(rita, cluster):
    cluster.api_url = "https://127.0.0.1:1"
    cluster.save()
    with pytest.raises(ValidationError) as raised:
        request_create(actor=rita, data=drain(cluster))
    assert "Could not read cluster demo" in raised.value.message_dict["cluster"][0]


@pytest.mark.parametrize("user", ["vera", "adam", "olga"])
def test_only_requesters_and_admins_create_requests(user, request, cluster):
    with pytest.raises(PermissionDenied):
        request_create(actor=request.getfixturevalue(user), data=drain(cluster))


def test_create_stores_the_plan_and_audits(rita, cluster):
    created = request_create(actor=rita, data=drain(cluster))
    assert created.status == RequestStatus.SCHEDULED
    assert created.plan["ok"] and created.plan["counts"]["evict"] >= 4
    event = AuditEvent.objects.get(action="request.create")
    assert event.actor_name == "rita" and event.details["node"] == "node-2"


def test_not_before_in_the_future_is_not_due(rita, cluster):
    later = timezone.now() + timedelta(hours=1)
    created = request_create(actor=rita, data=drain(cluster, not_before=later))
    assert not request_services.request_is_due(created)
    assert request_services.request_is_due(created, later + timedelta(seconds=1))
    assert created.pk not in request_services.requests_due_to_start()


def test_start_cordons_and_creates_one_row_per_pod_and_is_safe_to_repeat(
    rita, cluster, sim, django_capture_on_commit_callbacks
):
    created = request_create(actor=rita, data=drain(cluster))
    with django_capture_on_commit_callbacks():
        request_start(request_id=created.pk)
        request_start(request_id=created.pk)
    rows = PodEviction.objects.filter(request=created)
    assert rows.count() == len({(r.namespace, r.name) for r in rows})
    assert rows.filter(status=PodStatus.SKIPPED, name__startswith="kube-proxy").exists()
    assert rows.filter(status=PodStatus.PENDING).count() >= 4
    assert [n["unschedulable"] for n in sim.state()["nodes"] if n["name"] == "node-2"] == [True]


def _started(rita, cluster, django_capture_on_commit_callbacks):
    created = request_create(actor=rita, data=drain(cluster, node="node-3"))
    with django_capture_on_commit_callbacks():
        request_start(request_id=created.pk)
    return EvictionRequest.objects.get(pk=created.pk)


def test_interventions_need_the_operator_role_and_a_reason(
    rita, olga, vera, cluster, django_capture_on_commit_callbacks
):
    started = _started(rita, cluster, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        request_services.request_pause(actor=vera, request_id=started.pk, reason="x")
    with pytest.raises(PermissionDenied):
        request_services.request_pause(actor=rita, request_id=started.pk, reason="x")
    with pytest.raises(ValidationError):
        request_services.request_pause(actor=olga, request_id=started.pk, reason="")
    paused = request_services.request_pause(actor=olga, request_id=started.pk, reason="investigating")
    assert paused.status == RequestStatus.PAUSED and "investigating" in paused.status_reason
    with pytest.raises(ValidationError):
        request_services.request_pause(actor=olga, request_id=started.pk, reason="again")
    resumed = request_services.request_resume(actor=olga, request_id=started.pk)
    assert resumed.status == RequestStatus.RUNNING
    extended = request_services.request_extend_deadline(actor=olga, request_id=started.pk, minutes=15)
    assert extended.deadline_at > started.deadline_at + timedelta(minutes=14)
    cancelled = request_services.request_cancel(actor=olga, request_id=started.pk, reason="wrong node")
    assert cancelled.status == RequestStatus.CANCELLED
    assert not PodEviction.objects.filter(request=started, status__in=[PodStatus.PENDING, PodStatus.BLOCKED]).exists()
    actions = set(AuditEvent.objects.filter(object_id=str(started.pk)).values_list("action", flat=True))
    assert {"request.pause", "request.resume", "request.extend_deadline", "request.cancel"} <= actions


def test_skip_and_retry_on_a_pod(rita, olga, cluster, django_capture_on_commit_callbacks):
    started = _started(rita, cluster, django_capture_on_commit_callbacks)
    pod = PodEviction.objects.filter(request=started, status=PodStatus.PENDING).first()
    retried = pod_services.pod_retry_now(actor=olga, pod_id=pod.pk, reason="now")
    assert retried.status == PodStatus.PENDING and retried.next_attempt_at <= timezone.now()
    skipped = pod_services.pod_skip(actor=olga, pod_id=pod.pk, reason="owner will restart it")
    assert skipped.status == PodStatus.SKIPPED
    with pytest.raises(ValidationError):
        pod_services.pod_skip(actor=olga, pod_id=pod.pk, reason="twice")


def test_force_delete_needs_the_typed_name_and_the_operator_role(
    rita, olga, cluster, django_capture_on_commit_callbacks
):
    started = _started(rita, cluster, django_capture_on_commit_callbacks)
    pod = PodEviction.objects.filter(request=started, status=PodStatus.PENDING).first()
    with pytest.raises(PermissionDenied):
        pod_services.pod_force_delete(actor=rita, pod_id=pod.pk, reason="x", confirm_name=pod.name)
    with pytest.raises(ValidationError) as raised:
        pod_services.pod_force_delete(actor=olga, pod_id=pod.pk, reason="stuck", confirm_name="not-it")
    assert "Type the pod's name" in raised.value.message_dict["confirm_name"][0]
    with django_capture_on_commit_callbacks():
        deleted = pod_services.pod_force_delete(
            actor=olga, pod_id=pod.pk, reason="stuck", confirm_name=pod.name, grace_period_seconds=0
        )
    assert deleted.status == PodStatus.TERMINATING
    assert AuditEvent.objects.filter(action="pod.force_delete", actor_name="olga").exists()


# ---- how a request ends: a person's skips and direct deletes are not a plain success ----------------------------


@pytest.mark.parametrize(
    ("others", "last", "status", "reason"),
    [
        pytest.param(["evicted", "evicted"], "evicted", "succeeded", "3 pod(s) evicted.", id="all-evicted"),
        pytest.param(
            ["evicted", "skipped-by-plan"], "evicted", "succeeded", "2 pod(s) evicted.", id="daemonset-skipped"
        ),
        pytest.param(
            ["evicted", "evicted"],
            "skipped-by-person",
            "done_with_exceptions",
            "1 skipped; 2 pod(s) evicted.",
            id="skipped-by-a-person",
        ),
        pytest.param(
            ["deleted", "deleted", "skipped-by-plan"],
            "skipped-by-person",
            "done_with_exceptions",
            "1 skipped, 2 deleted directly; 0 pod(s) evicted.",
            id="skipped-and-deleted",
        ),
        pytest.param(
            ["evicted", "deleted"],
            "evicted",
            "done_with_exceptions",
            "1 deleted directly; 2 pod(s) evicted.",
            id="deleted-directly",
        ),
        pytest.param(["deleted", "failed"], "evicted", "failed", "1 pod(s) failed; the others are done.", id="failed"),
    ],
)
def test_a_request_ends_done_with_exceptions_when_a_person_skipped_or_deleted_pods(
    alice, olga, others, last, status, reason
):
    from evictions.services.requests import request_refresh
    from tests.factories import ClusterFactory, running_drain

    request = running_drain(ClusterFactory(), alice)
    made = {"skipped-by-plan": PodStatus.SKIPPED}
    for index, ending in enumerate(others):
        PodEviction.objects.create(
            request=request, namespace="shop", name=f"p{index}", uid=f"u{index}", status=made.get(ending, ending)
        )
    pod = PodEviction.objects.create(request=request, namespace="shop", name="last", uid="u-last")
    if last == "skipped-by-person":
        pod_services.pod_skip(actor=olga, pod_id=pod.pk, reason="its owner restarts it")
    else:
        PodEviction.objects.filter(pk=pod.pk).update(status=last)
        request_refresh(request=EvictionRequest.objects.select_for_update().get(pk=request.pk))

    request.refresh_from_db()
    assert (request.status, request.status_reason) == (status, reason)
    assert AuditEvent.objects.filter(action=f"request.{status}", object_id=str(request.pk)).exists()
