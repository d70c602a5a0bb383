"""The schedule page: every cluster's windows and unfinished requests on a server-drawn SVG, in UTC, with links,
tooltips and a list; escaped; in a constant number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from evictions.models import EvictionRequest, MaintenanceWindow, RequestStatus
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def every_day(cluster, start=time(2), end=time(4), tz="UTC", label="nightly") -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(
        cluster=cluster,
        kind="recurring",
        weekdays=list(range(7)),
        start_time=start,
        end_time=end,
        timezone=tz,
        label=label,
    )


def request_on(cluster, requester, **fields) -> EvictionRequest:
    values = {"kind": "drain", "node": "node-1", "reason": "r", "status": RequestStatus.SCHEDULED}
    values.update(fields)
    return EvictionRequest.objects.create(cluster=cluster, requester=requester, **values)


def test_schedule_shows_windows_and_requests_per_cluster(vera, rita):
    prod = ClusterFactory(name="prod")
    every_day(prod, tz="Europe/Berlin", label="patch <night>")
    ClusterFactory(name="quiet")
    now = timezone.now()
    in_window = request_on(prod, rita, schedule="window", node="node-<2>")
    later = request_on(prod, rita, schedule="not_before", not_before=now + timedelta(days=3))
    running = request_on(prod, rita, status=RequestStatus.RUNNING, started_at=now - timedelta(minutes=5), node="n3")
    waiting = request_on(prod, rita, status=RequestStatus.AWAITING_APPROVAL, node="n4")
    done = request_on(prod, rita, status=RequestStatus.SUCCEEDED, node="n5")
    far = request_on(prod, rita, schedule="not_before", not_before=now + timedelta(days=40), node="n6")

    response = signed_in(vera).get(reverse("schedule"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<svg class="timeline"' in html and "UTC" in html
    timeline = response.context["timeline"]
    assert [row.name for row in timeline.rows] == ["prod", "quiet"]
    prod_row, quiet_row = timeline.rows
    assert 14 <= len(prod_row.windows) <= 16  # a window every day, today and the next 14
    assert quiet_row.windows == [] and quiet_row.note == "no maintenance windows"
    drawn = {box.url: box for box in prod_row.items}
    for request in (in_window, later, running, waiting):
        assert reverse("request-detail", args=[request.pk]) in drawn
    assert reverse("request-detail", args=[done.pk]) not in drawn
    assert [span.label for span in prod_row.later] == [f"#{far.pk} drain n6"]
    assert drawn[reverse("request-detail", args=[running.pk])].css == "tl-running"
    assert drawn[reverse("request-detail", args=[waiting.pk])].css == "tl-awaiting_approval"
    assert timeline.now_x is not None
    # Tooltips, links, dates and the now marker are in the SVG; names from users are escaped.
    assert "<title>Maintenance window patch &lt;night&gt;" in html
    assert "node-&lt;2&gt;" in html and "node-<2>" not in html
    assert 'class="tl-now"' in html
    assert f'href="{reverse("request-detail", args=[later.pk])}"' in html
    assert f'dy="15">{now.day} {now:%b}</tspan>' in html  # today's date on the strip
    assert 'style="' not in html  # the CSP forbids inline styles
    assert "," not in html.split('viewBox="', 1)[1].split('"', 1)[0]  # numbers are never localised
    # The list under it: in time order, the window request placed at its window.
    listed = [fact["req"].pk for fact in response.context["listed"]]
    assert set(listed) == {in_window.pk, later.pk, running.pk, waiting.pk, far.pk}
    assert listed[0] == running.pk and listed[-1] == far.pk
    assert "in the maintenance window from" in html


def test_window_request_without_any_window_is_listed_as_not_in_sight(vera, rita):
    cluster = ClusterFactory(name="bare")
    request = request_on(cluster, rita, schedule="window")
    response = signed_in(vera).get(reverse("schedule"))
    assert [fact["req"].pk for fact in response.context["unplaced"]] == [request.pk]
    assert "not in sight" in response.content.decode()


def test_one_off_window_in_the_strip(vera):
    cluster = ClusterFactory(name="prod")
    start = (timezone.now() + timedelta(days=2)).astimezone(UTC).replace(hour=22, minute=0, second=0, microsecond=0)
    MaintenanceWindow.objects.create(
        cluster=cluster, kind="one_off", starts_at=start, ends_at=start + timedelta(hours=4), label="db move"
    )
    html = signed_in(vera).get(reverse("schedule")).content.decode()
    assert (
        f"Maintenance window db move: {start:%a %d %b} 22:00 to {start + timedelta(hours=4):%a %d %b} 02:00 UTC" in html
    )


def test_schedule_needs_a_role(client, nora):
    assert client.get(reverse("schedule")).status_code == 302
    assert signed_in(nora).get(reverse("schedule")).status_code == 403


def test_schedule_reads_in_constant_queries(vera, rita, django_assert_max_num_queries):
    for n in range(6):
        cluster = ClusterFactory(name=f"c{n}")
        every_day(cluster)
        MaintenanceWindow.objects.create(
            cluster=cluster,
            kind="one_off",
            starts_at=timezone.now() + timedelta(days=1),
            ends_at=timezone.now() + timedelta(days=2),
        )
        for m in range(5):
            request_on(cluster, rita, node=f"n{m}", schedule="window" if m % 2 else "now")
    client = signed_in(vera)
    client.get(reverse("schedule"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("schedule"))
    assert sum(len(row.items) for row in response.context["timeline"].rows) == 30


def test_schedule_strip_covers_today_and_fourteen_days(vera):
    ClusterFactory(name="prod")
    timeline = signed_in(vera).get(reverse("schedule")).context["timeline"]
    assert timeline.until - timeline.since == timedelta(days=15)
    assert timeline.since == datetime.combine(timezone.now().astimezone(UTC).date(), time(0), tzinfo=UTC)
