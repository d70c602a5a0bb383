"""The request timeline's lanes as a table: which phases a pod went through and when, and the bounded picture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evictions.lanes import HEADER, LABEL_WIDTH, LANE, WIDTH, AttemptInput, PodInput, phases, picture
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
from tests.factories import ClusterFactory

T0 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def a(seconds: float, status: int | None, outcome: str = "", budget: str = "") -> AttemptInput:
    return AttemptInput(s(seconds), status, outcome, budget)


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        # Accepted at once: a moment of waiting, terminating, evicted.
        (
            PodInput("shop/a", "evicted", T0, [a(0, 201)], s(0), s(30)),
            [("pending", 0, 0), ("terminating", 0, 30), ("evicted", 30, 30)],
        ),
        # Blocked by 429s (merged into one phase) until the attempt that was accepted.
        (
            PodInput("shop/b", "evicted", T0, [a(5, 429), a(15, 429), a(25, 429), a(40, 201)], s(40), s(50)),
            [("pending", 0, 5), ("blocked", 5, 40), ("terminating", 40, 50), ("evicted", 50, 50)],
        ),
        # A 500 in between: waiting to retry, then blocked again; still blocked now.
        (
            PodInput("shop/c", "blocked", T0, [a(0, 429), a(20, 503), a(30, 429)], blocked_since=s(30)),
            [("blocked", 0, 20), ("pending", 20, 30), ("blocked", 30, 600)],
        ),
        # Stuck: the answer that needs a person, until now.
        (
            PodInput("shop/d", "needs_intervention", T0, [a(10, 429), a(70, 429, "needs_intervention")]),
            [("pending", 0, 10), ("blocked", 10, 70), ("stuck", 70, 600)],
        ),
        # Deleted directly after being stuck: no eviction accepted, the deletion ends it.
        (
            PodInput("shop/e", "deleted", T0, [a(0, 429, "needs_intervention"), a(90, 200)], s(90), s(95)),
            [("stuck", 0, 90), ("terminating", 90, 95), ("deleted", 95, 95)],
        ),
        # Skipped without an attempt.
        (PodInput("kube-system/f", "skipped", T0, finished_at=s(3)), [("pending", 0, 3), ("skipped", 3, 3)]),
        # Failed (403): waiting, then the end.
        (
            PodInput("shop/g", "failed", T0, [a(2, 403, "failed")], finished_at=s(2)),
            [("pending", 0, 2), ("failed", 2, 2)],
        ),
        # Still terminating: until now.
        (
            PodInput("shop/h", "terminating", T0, [a(1, 201)], s(1)),
            [("pending", 0, 1), ("terminating", 1, 600)],
        ),
        # Blocked by the record only (no attempts kept): from blocked_since.
        (
            PodInput("shop/i", "blocked", T0, blocked_since=s(60)),
            [("pending", 0, 60), ("blocked", 60, 600)],
        ),
        # Not started: waiting until now.
        (PodInput("shop/j", "pending", T0), [("pending", 0, 600)]),
    ],
)
def test_phases(pod, expected):
    got = [(p.phase, (p.start - T0).total_seconds(), (p.end - T0).total_seconds()) for p in phases(pod, NOW)]
    assert got == expected


def test_a_blocked_phase_says_how_many_429s_and_which_budget():
    pod = PodInput("shop/b", "blocked", T0, [a(5, 429, budget="shop/web-pdb needs 2, has 2"), a(15, 429)])
    blocked = phases(pod, NOW)[-1]
    assert blocked.note == "2 answers 429: shop/web-pdb needs 2, has 2"


def test_picture_places_bars_on_a_shared_axis():
    pods = [
        PodInput("shop/a", "evicted", T0, [a(0, 201)], s(0), s(60)),
        PodInput("shop/b", "blocked", T0, [a(0, 429)], blocked_since=s(0)),
    ]
    pic = picture(pods, T0 + timedelta(seconds=120))
    assert pic is not None
    assert (pic.since, pic.until) == (T0, s(120))
    a_lane, b_lane = pic.lanes
    assert (a_lane.y, b_lane.y) == (HEADER, HEADER + LANE)
    terminating = next(seg for seg in a_lane.segments if seg.phase == "terminating")
    assert terminating.x == LABEL_WIDTH and terminating.width == round((WIDTH - LABEL_WIDTH) / 2, 1)
    evicted = a_lane.segments[-1]
    assert evicted.moment and evicted.x == round(LABEL_WIDTH + (WIDTH - LABEL_WIDTH) / 2, 1)
    assert "shop/b: blocked 02:00:00 to 02:02:00 UTC (2m 0s); 1 answer 429" == b_lane.segments[-1].title
    assert [t.label for t in pic.ticks][:3] == ["02:00:00", "02:00:15", "02:00:30"]
    assert pic.summary == ""


def test_picture_of_no_pods_is_none():
    assert picture([], NOW) is None


def test_over_the_lane_limit_only_blocked_or_failed_pods_get_a_lane():
    pods = [PodInput(f"shop/ok-{n}", "evicted", T0, [a(0, 201)], s(0), s(5)) for n in range(8)]
    pods += [PodInput("shop/slow", "evicted", T0, [a(0, 429), a(9, 201)], s(9), s(12))]
    pods += [PodInput("shop/bad", "failed", T0, [a(0, 403, "failed")], finished_at=s(1))]
    pods += [PodInput("kube-system/ds", "skipped", T0, finished_at=s(0))]
    pic = picture(pods, NOW, max_lanes=5)
    assert pic is not None
    assert [lane.key for lane in pic.lanes] == ["shop/slow", "shop/bad"]
    assert pic.hidden == 9
    assert pic.summary == "9 more pods not drawn (8 evicted, 1 skipped)."
    small = picture(pods, NOW, max_lanes=20)
    assert small is not None and len(small.lanes) == 11 and small.hidden == 0


# ---- on the request page -------------------------------------------------------------------------------------------


def _request_with_pods(alice, count: int, attempts: int = 3) -> EvictionRequest:
    now = timezone.now()
    request = EvictionRequest.objects.create(
        cluster=ClusterFactory(name="prod"),
        requester=alice,
        kind="drain",
        node="node-1",
        reason="kernel",
        status=RequestStatus.RUNNING,
        started_at=now - timedelta(minutes=5),
        pods_created_at=now - timedelta(minutes=5),
        deadline_at=now + timedelta(minutes=25),
    )
    pods = PodEviction.objects.bulk_create(
        PodEviction(
            request=request,
            namespace="shop",
            name=f"web-{n}",
            uid=f"u{n}",
            node="node-1",
            status=PodStatus.EVICTED if n % 2 else PodStatus.BLOCKED,
            eviction_accepted_at=now - timedelta(minutes=1) if n % 2 else None,
            finished_at=now if n % 2 else None,
            blocked_since=None if n % 2 else now - timedelta(minutes=4),
        )
        for n in range(count)
    )
    EvictionAttempt.objects.bulk_create(
        EvictionAttempt(pod=pod, at=now - timedelta(minutes=4 - m), http_status=429, budget="shop/web-pdb")
        for pod in pods
        for m in range(attempts)
    )
    return request


def test_request_page_draws_a_lane_per_pod_with_tooltips(admin_client, alice):
    request = _request_with_pods(alice, 4)
    html = admin_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    assert 'id="pod-timeline"' in html
    assert html.count('class="lane" data-pod=') == 4
    assert "shop/web-0: blocked" in html and "3 answers 429: shop/web-pdb" in html
    assert 'class="lane-end lane-evicted"' in html
    assert "style=" not in html.split('id="pod-timeline"')[1].split("</section>")[0]


def test_the_live_refresh_does_not_redraw_the_timeline(admin_client, alice):
    request = _request_with_pods(alice, 2)
    html = admin_client.get(reverse("request-detail", args=[request.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "pod-timeline" not in html


def test_request_page_timeline_escapes_pod_names(admin_client, alice):
    request = _request_with_pods(alice, 1)
    PodEviction.objects.filter(request=request).update(name="<script>alert(1)</script>")
    html = admin_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("count", [5, 45])
def test_request_page_queries_do_not_grow_with_pods(admin_client, alice, django_assert_max_num_queries, count):
    request = _request_with_pods(alice, count)
    with django_assert_max_num_queries(16):
        response = admin_client.get(reverse("request-detail", args=[request.pk]))
    assert response.status_code == 200
    assert response.content.decode().count('class="lane" data-pod=') == count


def test_a_big_requests_timeline_follows_the_page(admin_client, alice):
    from evictions.selectors import POD_TABLE_LIMIT

    request = _request_with_pods(alice, POD_TABLE_LIMIT + 1)
    html = admin_client.get(reverse("request-detail", args=[request.pk])).content.decode()
    assert 'id="pod-timeline"' not in html
    url = reverse("request-timeline", args=[request.pk])
    assert f'hx-get="{url}"' in html and 'hx-trigger="load"' in html
    picture_html = admin_client.get(url).content.decode()
    assert 'id="pod-timeline"' in picture_html and 'class="lane" data-pod=' in picture_html
