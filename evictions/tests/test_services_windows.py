"""Maintenance windows with frozen time: a recurring window across a daylight-saving change, a window closing
mid-drain (no new evictions after the close, resumption in the next window), "not before", and the drain queue."""

from __future__ import annotations

from datetime import UTC, datetime, time
from time import sleep as real_sleep

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import System
from evictions.models import EvictionAttempt, EvictionRequest, PauseKind, PodEviction, PodStatus, RequestStatus
from evictions.planning import DrainOptions
from evictions.selectors import queue_position
from evictions.services import pods as pod_services
from evictions.services import windows as window_services
from evictions.services.approvals import PolicyInput, policy_set
from evictions.services.requests import (
    RequestInput,
    request_cancel,
    request_create,
    request_start,
    requests_due_to_start,
)
from evictions.services.windows import WindowInput, validate_window, window_create, window_update
from kubesim import Simulator
from tests.kubesim_cluster import register_sim

ALL = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)
TEST = System("test")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def sim():
    # Started before any time travel: its certificates are dated by the real clock, which TLS checks.
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def cluster(sim, db):
    return register_sim(sim, name="prod", qps_limit=50)


def drain(rita, cluster, node: str = "node-2", **extra) -> EvictionRequest:
    return request_create(
        actor=rita, data=RequestInput(cluster=cluster, kind="drain", reason="kernel", node=node, options=ALL, **extra)
    )


def accepted_before_the_close(pod: PodEviction, capture) -> None:
    """Attempt until the cluster accepts (the first answer may be a throttle)."""
    for _ in range(20):
        PodEviction.objects.filter(pk=pod.pk).update(next_attempt_at=timezone.now())
        with capture():
            pod_services.pod_attempt(pod_id=pod.pk)
        if PodEviction.objects.get(pk=pod.pk).status == PodStatus.TERMINATING:
            return
        real_sleep(0.2)
    raise AssertionError(f"{pod} was never accepted")


def fresh(request: EvictionRequest) -> EvictionRequest:
    return EvictionRequest.objects.get(pk=request.pk)


def test_a_recurring_window_across_the_spring_daylight_saving_change(rita, cluster, django_capture_on_commit_callbacks):
    # Every day 02:00-04:00 in Berlin. On Sunday 28 March 2027 the clocks jump from 02:00 to 03:00.
    window_create(
        actor=TEST,
        cluster_id=cluster.pk,
        data=WindowInput(
            kind="recurring", weekdays=tuple(range(7)), start_time=time(2), end_time=time(4), timezone="Europe/Berlin"
        ),
    )
    with time_machine.travel(utc(2027, 3, 27, 12), tick=True) as clock:
        request = drain(rita, cluster, schedule="window")
        request_start(request_id=request.pk)
        request = fresh(request)
        assert request.status == RequestStatus.SCHEDULED
        # 02:00 does not exist that night: the window opens at 03:00 CEST, which is 01:00 UTC.
        assert request.start_after == utc(2027, 3, 28, 1)
        assert "Sun 28 Mar 03:00 Europe/Berlin (01:00 UTC)" in request.status_reason
        clock.move_to(utc(2027, 3, 28, 0, 59))
        assert request.pk not in requests_due_to_start()
        clock.move_to(utc(2027, 3, 28, 1, 0, 5))
        assert request.pk in requests_due_to_start()
        with django_capture_on_commit_callbacks():
            request_start(request_id=request.pk)
        request = fresh(request)
        assert request.status == RequestStatus.RUNNING
        assert request.window_ends_at == utc(2027, 3, 28, 2)  # 04:00 CEST
        # The next opening is on summer time: 02:00 CEST is 00:00 UTC.
        upcoming = window_services.next_opening(window_services.window_specs(cluster.pk), utc(2027, 3, 28, 3))
        assert upcoming is not None and upcoming.start == utc(2027, 3, 29, 0)


def test_a_window_closing_mid_drain_stops_new_evictions_and_the_next_window_resumes(
    rita, cluster, sim, django_capture_on_commit_callbacks
):
    # Tuesdays and Wednesdays 01:00-02:00 UTC.
    window_create(
        actor=TEST,
        cluster_id=cluster.pk,
        data=WindowInput(kind="recurring", weekdays=(1, 2), start_time=time(1), end_time=time(2), timezone="UTC"),
    )
    with time_machine.travel(utc(2026, 12, 1, 1, 50), tick=True) as clock:
        request = drain(rita, cluster, node="node-3", schedule="window")
        with django_capture_on_commit_callbacks():
            request_start(request_id=request.pk)
        assert fresh(request).window_ends_at == utc(2026, 12, 1, 2)
        pending = list(PodEviction.objects.filter(request=request, status=PodStatus.PENDING).order_by("pk"))
        assert len(pending) >= 2, [p.name for p in PodEviction.objects.filter(request=request)]
        first = next(p for p in pending if p.name == "toolbox")  # a bare pod: no budget holds it
        second = next(p for p in pending if p.namespace == "search")
        accepted_before_the_close(first, django_capture_on_commit_callbacks)

        clock.move_to(utc(2026, 12, 1, 2, 0, 1))  # the window has closed; the tick has not run yet
        assert pod_services.pod_attempt(pod_id=second.pk) is None
        assert not EvictionAttempt.objects.filter(pod=second).exists(), "no new eviction after the close"

        assert window_services.requests_window_closed() == 1
        request = fresh(request)
        assert request.status == RequestStatus.PAUSED and request.pause_kind == PauseKind.WINDOW
        assert "Window closed" in request.status_reason and "Wed 2 Dec 01:00 UTC" in request.status_reason
        assert AuditEvent.objects.filter(action="request.window_closed", object_id=str(request.pk)).exists()
        # The pod already evicting is followed to the end while paused.
        assert request.pk in pod_services.requests_needing_followers()
        assert window_services.requests_window_reopened() == 0  # still closed

        clock.move_to(utc(2026, 12, 2, 1, 0, 10))
        with django_capture_on_commit_callbacks() as callbacks:
            assert window_services.requests_window_reopened() == 1
        request = fresh(request)
        assert request.status == RequestStatus.RUNNING and request.window_ends_at == utc(2026, 12, 2, 2)
        assert request.deadline_at > utc(2026, 12, 2, 1, 0, 10)
        assert callbacks, "waiting pods are enqueued again"
        with django_capture_on_commit_callbacks():
            assert pod_services.pod_attempt(pod_id=second.pk) is not None
        assert EvictionAttempt.objects.filter(pod=second).count() == 1


def test_a_person_cannot_resume_a_request_whose_window_is_closed(
    rita, olga, cluster, django_capture_on_commit_callbacks
):
    from evictions.services.requests import request_resume

    window_create(
        actor=TEST,
        cluster_id=cluster.pk,
        data=WindowInput(kind="recurring", weekdays=(1,), start_time=time(1), end_time=time(2), timezone="UTC"),
    )
    with time_machine.travel(utc(2026, 12, 1, 1, 30), tick=True) as clock:
        request = drain(rita, cluster, node="node-3", schedule="window")
        with django_capture_on_commit_callbacks():
            request_start(request_id=request.pk)
        clock.move_to(utc(2026, 12, 1, 2, 1))
        window_services.requests_window_closed()
        with pytest.raises(ValidationError, match="resumes by itself"):
            request_resume(actor=olga, request_id=request.pk)


def test_editing_a_window_moves_the_end_of_a_running_request(rita, cluster, django_capture_on_commit_callbacks):
    window = window_create(
        actor=TEST,
        cluster_id=cluster.pk,
        data=WindowInput(kind="recurring", weekdays=(1,), start_time=time(1), end_time=time(2), timezone="UTC"),
    )
    with time_machine.travel(utc(2026, 12, 1, 1, 30), tick=True):
        request = drain(rita, cluster, node="node-3", schedule="window")
        with django_capture_on_commit_callbacks():
            request_start(request_id=request.pk)
        window_update(
            actor=TEST,
            window_id=window.pk,
            data=WindowInput(kind="recurring", weekdays=(1,), start_time=time(1), end_time=time(3), timezone="UTC"),
        )
        assert fresh(request).window_ends_at == utc(2026, 12, 1, 3)
        actions = list(AuditEvent.objects.filter(action__startswith="window.").values_list("action", flat=True))
        assert sorted(actions) == ["window.create", "window.update"]


def test_not_before_holds_the_start_until_that_moment(rita, cluster, django_capture_on_commit_callbacks):
    with time_machine.travel(utc(2026, 12, 1, 9), tick=True) as clock:
        request = drain(rita, cluster, node="node-3", not_before=utc(2026, 12, 1, 10))
        assert request.schedule == "not_before"
        request_start(request_id=request.pk)
        assert fresh(request).status == RequestStatus.SCHEDULED
        assert request.pk not in requests_due_to_start()
        clock.move_to(utc(2026, 12, 1, 10, 0, 1))
        assert request.pk in requests_due_to_start()
        with django_capture_on_commit_callbacks():
            request_start(request_id=request.pk)
        started = fresh(request)
        assert started.status == RequestStatus.RUNNING and started.started_at >= utc(2026, 12, 1, 10)


def test_a_one_off_window_is_used_once(rita, cluster, django_capture_on_commit_callbacks):
    with time_machine.travel(utc(2026, 12, 1, 9), tick=True) as clock:
        window_create(
            actor=TEST,
            cluster_id=cluster.pk,
            data=WindowInput(kind="one_off", starts_at=utc(2026, 12, 5, 22), ends_at=utc(2026, 12, 6, 2)),
        )
        request = drain(rita, cluster, node="node-3", schedule="window")
        request_start(request_id=request.pk)
        assert fresh(request).start_after == utc(2026, 12, 5, 22)
        clock.move_to(utc(2026, 12, 5, 22, 0, 1))
        with django_capture_on_commit_callbacks():
            request_start(request_id=request.pk)
        assert fresh(request).window_ends_at == utc(2026, 12, 6, 2)


def test_window_scheduling_needs_windows_and_windows_only_clusters_need_it(rita, cluster):
    with pytest.raises(ValidationError) as refused:
        drain(rita, cluster, schedule="window")
    assert "no maintenance windows" in str(refused.value.message_dict["schedule"])
    policy_set(actor=TEST, cluster_id=cluster.pk, data=PolicyInput(windows_only=True))
    with pytest.raises(ValidationError) as refused:
        drain(rita, cluster)
    assert "only in maintenance windows" in str(refused.value.message_dict["schedule"])
    assert not EvictionRequest.objects.exists()


def test_drains_queue_per_cluster_in_submission_order(rita, olga, cluster, django_capture_on_commit_callbacks):
    first = drain(rita, cluster, node="node-2")
    second = drain(rita, cluster, node="node-3")
    third = drain(rita, cluster, node="node-1")
    with django_capture_on_commit_callbacks():
        request_start(request_id=second.pk)  # started out of order: it must wait for the first
    assert fresh(second).status == RequestStatus.SCHEDULED
    assert "number 2 in line" in fresh(second).status_reason
    assert [queue_position(fresh(r)) for r in (first, second, third)] == [1, 2, 3]
    with django_capture_on_commit_callbacks():
        request_start(request_id=first.pk)
    assert fresh(first).status == RequestStatus.RUNNING
    request_start(request_id=second.pk)
    second_now = fresh(second)
    assert second_now.status == RequestStatus.SCHEDULED
    assert "number 1 in line; 1 of 1 drain(s)" in second_now.status_reason
    assert queue_position(second_now) == 1
    # The first drain ends: the next in line is started at once, not on the next tick.
    with django_capture_on_commit_callbacks() as callbacks:
        request_cancel(actor=olga, request_id=first.pk, reason="enough")
    assert callbacks
    with django_capture_on_commit_callbacks():
        request_start(request_id=second.pk)
    assert fresh(second).status == RequestStatus.RUNNING


def test_two_drains_at_once_when_the_cluster_allows_two(rita, cluster, django_capture_on_commit_callbacks):
    type(cluster).objects.filter(pk=cluster.pk).update(max_concurrent_drains=2)
    first, second = drain(rita, cluster, node="node-2"), drain(rita, cluster, node="node-3")
    with django_capture_on_commit_callbacks():
        request_start(request_id=first.pk)
        request_start(request_id=second.pk)
    assert {fresh(first).status, fresh(second).status} == {RequestStatus.RUNNING}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (WindowInput(kind="recurring", weekdays=(), start_time=time(1), end_time=time(2)), "weekdays"),
        (WindowInput(kind="recurring", weekdays=(7,), start_time=time(1), end_time=time(2)), "weekdays"),
        (WindowInput(kind="recurring", weekdays=(1,), start_time=time(1), end_time=time(1)), "end_time"),
        (WindowInput(kind="recurring", weekdays=(1,), start_time=None, end_time=time(1)), "start_time"),
        (
            WindowInput(kind="recurring", weekdays=(1,), start_time=time(1), end_time=time(2), timezone="Mars/Base"),
            "timezone",
        ),
        (WindowInput(kind="one_off", starts_at=utc(2030, 1, 2), ends_at=utc(2030, 1, 1)), "ends_at"),
        (WindowInput(kind="one_off", starts_at=utc(2030, 1, 1), ends_at=utc(2030, 2, 1)), "ends_at"),
        (WindowInput(kind="one_off", starts_at=utc(2020, 1, 1), ends_at=utc(2020, 1, 2)), "ends_at"),
        (WindowInput(kind="one_off", starts_at=datetime(2030, 1, 1), ends_at=utc(2030, 1, 2)), "starts_at"),
        (WindowInput(kind="sometimes"), "kind"),
        (WindowInput(kind="recurring", label="x" * 101, weekdays=(1,), start_time=time(1), end_time=time(2)), "label"),
    ],
)
def test_bad_windows_are_refused_by_field(data, field):
    with pytest.raises(ValidationError) as refused:
        validate_window(data)
    assert field in refused.value.message_dict


def test_a_viewer_cannot_edit_windows(vera, cluster):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        window_create(
            actor=vera,
            cluster_id=cluster.pk,
            data=WindowInput(kind="recurring", weekdays=(1,), start_time=time(1), end_time=time(2)),
        )
    assert not cluster.windows.exists()
