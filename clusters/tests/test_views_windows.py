"""A cluster's maintenance windows and approval policy on its page: admins add, change and delete windows and set
the policy (or the default one), errors land on their fields, everyone else reads; every write is audited."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from evictions.models import ApprovalPolicy, MaintenanceWindow
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def cluster():
    return ClusterFactory(name="prod")


def weekly(**fields):
    data = {"kind": "recurring", "label": "patch night", "weekdays": ["0", "1"], "start_time": "02:00"}
    data.update({"end_time": "04:00", "timezone": "Europe/Berlin"})
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_adds_a_weekly_window_and_sees_it_in_words(admin_client, cluster):
    response = admin_client.post(reverse("window-add", args=[cluster.pk]), weekly())
    assert response.status_code == 302 and response["Location"] == reverse("cluster-detail", args=[cluster.pk])
    window = MaintenanceWindow.objects.get()
    assert (window.weekdays, window.start_time, window.end_time, window.timezone) == (
        [0, 1],
        time(2),
        time(4),
        "Europe/Berlin",
    )
    assert AuditEvent.objects.filter(action="window.create", cluster_id=cluster.pk).exists()
    html = admin_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert "Mon, Tue 02:00-04:00 Europe/Berlin" in html and "patch night" in html
    assert "next opens" in html or "open now" in html
    assert reverse("window-edit", args=[window.pk]) in html and reverse("window-delete", args=[window.pk]) in html


def test_overnight_window_says_it_closes_the_next_day(admin_client, cluster):
    admin_client.post(reverse("window-add", args=[cluster.pk]), weekly(start_time="22:00", end_time="02:00"))
    html = admin_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert "22:00-02:00 Europe/Berlin (closes the next day)" in html


def test_admin_adds_a_one_off_window_in_utc(admin_client, cluster):
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    data = {
        "kind": "one_off",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "weekdays": ["2"],  # left over from the weekly fields: ignored for a one-off window
        "timezone": "Europe/Berlin",
    }
    response = admin_client.post(reverse("window-add", args=[cluster.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    window = MaintenanceWindow.objects.get()
    assert (window.kind, window.starts_at, window.weekdays) == ("one_off", start, [])
    html = admin_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert f"{start:%Y-%m-%d %H:%M} - " in html


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (weekly(timezone="Mars/Olympus"), "timezone", "IANA time zone"),
        (weekly(weekdays=None), "weekdays", "at least one day"),
        (weekly(start_time=None), "start_time", "time the window opens"),
        (weekly(end_time="02:00"), "end_time", "different time"),
        (weekly(start_time="25:00"), "start_time", "Enter a valid time"),
        (
            {"kind": "one_off", "starts_at": "2031-01-02T10:00", "ends_at": "2031-01-02T08:00"},
            "ends_at",
            "close after it opens",
        ),
        ({"kind": "one_off", "starts_at": "2020-01-02T10:00", "ends_at": "2020-01-02T12:00"}, "ends_at", "already"),
        ({"kind": "one_off", "starts_at": "", "ends_at": "2031-01-02T08:00"}, "starts_at", "moment the window opens"),
    ],
)
def test_window_errors_show_on_their_field_and_nothing_is_stored(admin_client, cluster, data, field, words):
    response = admin_client.post(reverse("window-add", args=[cluster.pk]), data)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert words in errors, response.context["form"].errors
    html = response.content.decode()
    assert f'id="field-{field}"' in html and 'class="error"' in html
    assert not MaintenanceWindow.objects.exists()


def test_admin_changes_and_deletes_a_window(admin_client, cluster):
    admin_client.post(reverse("window-add", args=[cluster.pk]), weekly())
    window = MaintenanceWindow.objects.get()
    page = admin_client.get(reverse("window-edit", args=[window.pk])).content.decode()
    assert 'value="Europe/Berlin"' in page and 'value="02:00"' in page
    response = admin_client.post(reverse("window-edit", args=[window.pk]), weekly(weekdays=["5"], timezone="UTC"))
    assert response.status_code == 302
    window.refresh_from_db()
    assert (window.weekdays, window.timezone) == ([5], "UTC")
    response = admin_client.post(reverse("window-edit", args=[window.pk]), weekly(timezone="nowhere"))
    assert "IANA time zone" in " ".join(response.context["form"].errors["timezone"])

    assert "Sat 02:00-04:00 UTC" in admin_client.get(reverse("window-delete", args=[window.pk])).content.decode()
    response = admin_client.post(reverse("window-delete", args=[window.pk]))
    assert response["Location"] == reverse("cluster-detail", args=[cluster.pk])
    assert not MaintenanceWindow.objects.exists()
    assert list(
        AuditEvent.objects.filter(cluster_id=cluster.pk, action__startswith="window.")
        .order_by("sequence")
        .values_list("action", flat=True)
    ) == ["window.create", "window.update", "window.delete"]


def test_new_window_form_starts_with_the_kind_asked_for(admin_client, cluster):
    html = admin_client.get(reverse("window-add", args=[cluster.pk]), {"kind": "one_off"}).content.decode()
    assert re.search(r'<input type="radio" name="kind" value="one_off"[^>]*checked', html)
    assert 'type="time"' in html and 'type="datetime-local"' in html and 'type="checkbox"' in html


# ---- approval policy -----------------------------------------------------------------------------------------------


def policy_data(**fields):
    data = {
        "required_approvals": "2",
        "approver_groups": ["approver"],
        "approver_users": "alice, adam",
        "delete_needs_approval": "on",
        "approval_valid_minutes": "120",
        "windows_only": "on",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def test_cluster_page_shows_the_policy_that_applies(admin_client, cluster):
    html = admin_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert "No policy is set, not even a default" in html
    assert "none: requests start without approval" in html
    ApprovalPolicy.objects.create(cluster=None, required_approvals=1)
    html = admin_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert "The default policy applies" in html and "1 from people other than the requester" in html
    assert f"Give {cluster.name} its own policy" in html and "Reset to the default policy" not in html


def test_admin_gives_a_cluster_its_own_policy_then_resets_it(admin_client, cluster, alice, adam):
    ApprovalPolicy.objects.create(cluster=None, required_approvals=1, approval_valid_minutes=30)
    form = admin_client.get(reverse("policy-edit", args=[cluster.pk])).context["form"]
    assert form.initial["approval_valid_minutes"] == 30  # starts from the policy that applies now
    response = admin_client.post(reverse("policy-edit", args=[cluster.pk]), policy_data())
    assert response.status_code == 302 and response["Location"] == reverse("cluster-detail", args=[cluster.pk])
    policy = ApprovalPolicy.objects.get(cluster=cluster)
    assert (policy.required_approvals, policy.approval_valid_minutes) == (2, 120)
    assert policy.delete_needs_approval and policy.windows_only
    assert {g.name for g in policy.approver_groups.all()} == {"approver"}
    assert {u.username for u in policy.approver_users.all()} == {"alice", "adam"}
    html = admin_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert "prod has its own policy" in html
    assert "the approver role or adam, alice" in html
    assert "every request must wait for a window" in html and "needs approval by another person" in html
    assert AuditEvent.objects.filter(action="policy.update", cluster_id=cluster.pk).exists()

    response = admin_client.post(reverse("policy-reset", args=[cluster.pk]))
    assert response["Location"] == reverse("cluster-detail", args=[cluster.pk])
    assert not ApprovalPolicy.objects.filter(cluster=cluster).exists()
    assert AuditEvent.objects.filter(action="policy.reset", cluster_id=cluster.pk).exists()


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"approver_users": "alice, nobody"}, "approver_users", "No such user: nobody"),
        ({"required_approvals": "11"}, "required_approvals", "less than or equal to 10"),
        ({"approval_valid_minutes": "0"}, "approval_valid_minutes", "greater than or equal to 1"),
        ({"approver_groups": ["wizards"]}, "approver_groups", "Select a valid choice"),
    ],
)
def test_policy_errors_show_on_their_field(admin_client, cluster, alice, fields, field, words):
    response = admin_client.post(reverse("policy-edit", args=[cluster.pk]), policy_data(**fields))
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors.get(field, [])), response.context["form"].errors
    assert not ApprovalPolicy.objects.exists()


def test_admin_edits_the_default_policy_from_the_cluster_list(admin_client, cluster, alice, adam):
    assert reverse("policy-default") in admin_client.get(reverse("cluster-list")).content.decode()
    response = admin_client.post(reverse("policy-default"), policy_data(required_approvals="1", windows_only=None))
    assert response["Location"] == reverse("cluster-list")
    default = ApprovalPolicy.objects.get(cluster__isnull=True)
    assert default.required_approvals == 1 and not default.windows_only
    html = admin_client.get(reverse("policy-default")).content.decode()
    assert "Default approval policy" in html and 'value="1"' in html


# ---- reading only --------------------------------------------------------------------------------------------------


def test_viewer_reads_windows_and_policy_but_cannot_change_them(viewer_client, cluster):
    window = MaintenanceWindow.objects.create(
        cluster=cluster, kind="recurring", weekdays=[2], start_time=time(1), end_time=time(3), timezone="UTC"
    )
    ApprovalPolicy.objects.create(cluster=cluster, required_approvals=1)
    html = viewer_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    assert "Wed 01:00-03:00 UTC" in html and "prod has its own policy" in html
    for name in ("window-edit", "window-delete", "window-add", "policy-edit", "policy-reset", "policy-default"):
        assert name not in html
    assert reverse("window-edit", args=[window.pk]) not in html
    assert reverse("policy-default") not in viewer_client.get(reverse("cluster-list")).content.decode()
    for url in (
        reverse("window-add", args=[cluster.pk]),
        reverse("window-edit", args=[window.pk]),
        reverse("window-delete", args=[window.pk]),
        reverse("policy-edit", args=[cluster.pk]),
        reverse("policy-reset", args=[cluster.pk]),
        reverse("policy-default"),
    ):
        assert viewer_client.post(url, weekly()).status_code == 403
    assert viewer_client.get(reverse("window-add", args=[cluster.pk])).status_code == 403
    window.refresh_from_db()
    assert window.weekdays == [2]
    assert ApprovalPolicy.objects.get(cluster=cluster).required_approvals == 1


# ---- drains at once ------------------------------------------------------------------------------------------------


def test_admin_sets_how_many_nodes_drain_at_once(admin_client, cluster):
    url = reverse("cluster-edit", args=[cluster.pk])
    data = {"name": "prod", "api_url": cluster.api_url, "ca_pem": "", "token": "", "qps_limit": 10}
    response = admin_client.post(url, {**data, "max_concurrent_drains": 3})
    assert response.status_code == 302
    cluster.refresh_from_db()
    assert cluster.max_concurrent_drains == 3
    assert (
        "3 nodes; further drains wait in line"
        in admin_client.get(reverse("cluster-detail", args=[cluster.pk])).content.decode()
    )
    response = admin_client.post(url, {**data, "max_concurrent_drains": 0})
    assert "greater than or equal to 1" in " ".join(response.context["form"].errors["max_concurrent_drains"])
    event = AuditEvent.objects.filter(action="cluster.update").first()
    assert event is not None and event.details["changes"] == {"max_concurrent_drains": 3}
