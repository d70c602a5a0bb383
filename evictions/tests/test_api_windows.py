"""REST API for maintenance windows: recurring and one-off windows with their description and next opening,
field errors by name (time zone, weekday, naive time, unknown field), PATCH merging with what is stored, roles,
and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from evictions.models import MaintenanceWindow
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/windows/"
NIGHTLY = {
    "kind": "recurring",
    "label": "nightly",
    "weekdays": [1, 3],
    "start_time": "02:00",
    "end_time": "04:30",
    "timezone": "Europe/Berlin",
}


@pytest.fixture
def cluster():
    return ClusterFactory(name="prod")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def later(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).isoformat()


def create(api, cluster, **body):
    response = api.post(URL, {"cluster": cluster.pk, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_an_admin_creates_a_recurring_window(api, cluster):
    body = create(api, cluster, **NIGHTLY)
    window = MaintenanceWindow.objects.get(pk=body["id"])
    assert window.weekdays == [1, 3] and window.timezone == "Europe/Berlin"
    assert body["cluster"] == cluster.pk and body["cluster_name"] == "prod" and body["kind"] == "recurring"
    assert body["start_time"] == "02:00" and body["end_time"] == "04:30"
    assert body["description"] == "nightly: Tue, Thu 02:00-04:30 Europe/Berlin"
    assert body["starts_at"] is None and body["created_by"] == "alice"
    opening = body["next_opening"]
    start = datetime.fromisoformat(opening["start"])
    assert opening["start"].endswith("Z") and start.weekday() in (1, 3)
    assert start.astimezone(UTC).hour in (0, 1)  # 02:00 in Berlin is 00:00 or 01:00 UTC
    assert datetime.fromisoformat(opening["end"]) - start == timedelta(hours=2, minutes=30)
    event = AuditEvent.objects.get(action="window.create")
    assert event.actor_name == "alice" and event.object_id == str(window.pk)
    assert event.details["weekdays"] == [1, 3] and event.details["timezone"] == "Europe/Berlin"


def test_an_admin_creates_a_one_off_window_in_any_zone(api, cluster):
    starts = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    body = create(
        api,
        cluster,
        kind="one_off",
        starts_at=starts.astimezone(ZoneInfo("Asia/Tokyo")).isoformat(),
        ends_at=(starts + timedelta(hours=3)).astimezone(ZoneInfo("America/New_York")).isoformat(),
    )
    window = MaintenanceWindow.objects.get(pk=body["id"])
    assert window.starts_at == starts and window.ends_at == starts + timedelta(hours=3)
    assert body["weekdays"] == [] and body["start_time"] is None
    assert datetime.fromisoformat(body["next_opening"]["start"]) == starts
    assert body["description"].endswith("UTC")


def test_a_window_open_now_shows_its_current_opening(api, cluster):
    body = create(api, cluster, kind="one_off", starts_at=later(hours=-1), ends_at=later(hours=1))
    opening = body["next_opening"]
    assert datetime.fromisoformat(opening["start"]) < timezone.now() < datetime.fromisoformat(opening["end"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NIGHTLY, "timezone": "Mars/Olympus"}, "timezone"),
        ({**NIGHTLY, "timezone": "CEST"}, "timezone"),
        ({**NIGHTLY, "weekdays": [7]}, "weekdays"),
        ({**NIGHTLY, "weekdays": [-1]}, "weekdays"),
        ({**NIGHTLY, "weekdays": ["monday"]}, "weekdays"),
        ({**NIGHTLY, "weekdays": []}, "weekdays"),
        ({**NIGHTLY, "weekdays": 1}, "weekdays"),
        ({**NIGHTLY, "start_time": "2am"}, "start_time"),
        ({**NIGHTLY, "start_time": "25:00"}, "start_time"),
        ({**NIGHTLY, "end_time": "02:00"}, "end_time"),
        ({**NIGHTLY, "end_time": None}, "end_time"),
        ({**NIGHTLY, "starts_at": "2030-01-01T00:00:00Z"}, "starts_at"),
        ({**NIGHTLY, "label": "x" * 101}, "label"),
        ({**NIGHTLY, "kind": "weekly"}, "kind"),
        ({**NIGHTLY, "recurs": "always"}, "recurs"),
        ({k: v for k, v in NIGHTLY.items() if k != "kind"}, "kind"),
        ({"kind": "one_off", "starts_at": "2030-01-01T02:00:00", "ends_at": "2030-01-01T04:00:00Z"}, "starts_at"),
        ({"kind": "one_off", "starts_at": "2030-01-01T02:00:00Z", "ends_at": "2030-01-01T04:00:00"}, "ends_at"),
        ({"kind": "one_off", "starts_at": "next monday", "ends_at": "2030-01-01T04:00:00Z"}, "starts_at"),
        ({"kind": "one_off", "starts_at": "2030-01-01T04:00:00Z", "ends_at": "2030-01-01T02:00:00Z"}, "ends_at"),
        ({"kind": "one_off", "starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-20T00:00:00Z"}, "ends_at"),
        ({"kind": "one_off", "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2020-01-01T02:00:00Z"}, "ends_at"),
        ({"kind": "one_off", "ends_at": "2030-01-01T02:00:00Z"}, "starts_at"),
        (
            {
                "kind": "one_off",
                "starts_at": "2030-01-01T00:00:00Z",
                "ends_at": "2030-01-01T02:00:00Z",
                "weekdays": [1],
            },
            "weekdays",
        ),
    ],
)
def test_a_bad_window_is_a_400_naming_the_field_and_nothing_is_stored(api, cluster, body, field):
    response = api.post(URL, {"cluster": cluster.pk, **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not MaintenanceWindow.objects.exists()
    assert not AuditEvent.objects.filter(action="window.create").exists()


@pytest.mark.parametrize(("cluster_value", "message"), [(None, "required"), (424242, "No cluster"), ("prod", "id")])
def test_a_window_needs_an_existing_cluster(api, cluster_value, message):
    body = {**NIGHTLY} if cluster_value is None else {**NIGHTLY, "cluster": cluster_value}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400 and message in response.json()["cluster"][0]
    assert not MaintenanceWindow.objects.exists()


def test_patch_changes_only_what_is_given(api, cluster):
    created = create(api, cluster, **NIGHTLY)
    response = api.patch(f"{URL}{created['id']}/", {"end_time": "05:00", "weekdays": [5]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["end_time"] == "05:00" and body["weekdays"] == [5]
    assert body["start_time"] == "02:00" and body["timezone"] == "Europe/Berlin" and body["label"] == "nightly"
    event = AuditEvent.objects.get(action="window.update")
    assert event.details["before"]["end_time"] == "04:30:00" and event.details["after"]["end_time"] == "05:00:00"


def test_patch_to_another_kind_drops_the_fields_of_the_old_one(api, cluster):
    created = create(api, cluster, **NIGHTLY)
    change = {"kind": "one_off", "starts_at": later(days=1), "ends_at": later(days=1, hours=2)}
    response = api.patch(f"{URL}{created['id']}/", change, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "one_off" and body["weekdays"] == [] and body["start_time"] is None
    assert body["label"] == "nightly" and body["starts_at"]


def test_a_bad_patch_is_a_400_and_the_window_is_unchanged(api, cluster):
    created = create(api, cluster, **NIGHTLY)
    for change, field in (
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"weekdays": [9]}, "weekdays"),
        ({"start_time": "04:30"}, "end_time"),  # would open when it closes
        ({"starts_at": "2030-01-01T00:00:00"}, "starts_at"),
        ({"colour": "red"}, "colour"),
        ({"cluster": ClusterFactory().pk}, "cluster"),
    ):
        response = api.patch(f"{URL}{created['id']}/", change, format="json")
        assert response.status_code == 400, (change, response.content)
        assert field in response.json(), (change, response.json())
    window = MaintenanceWindow.objects.get(pk=created["id"])
    assert window.timezone == "Europe/Berlin" and window.weekdays == [1, 3]
    assert not AuditEvent.objects.filter(action="window.update").exists()


def test_put_replaces_the_whole_window(api, cluster):
    created = create(api, cluster, **NIGHTLY)
    response = api.put(
        f"{URL}{created['id']}/",
        {"kind": "recurring", "weekdays": [6], "start_time": "22:00", "end_time": "01:00"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["label"] == "" and body["timezone"] == "UTC"  # not given: the defaults, not the old values
    assert body["description"] == "Sun 22:00-01:00 UTC"
    opening = body["next_opening"]
    assert datetime.fromisoformat(opening["end"]) - datetime.fromisoformat(opening["start"]) == timedelta(hours=3)
    incomplete = api.put(f"{URL}{created['id']}/", {"weekdays": [1]}, format="json")
    assert incomplete.status_code == 400 and "kind" in incomplete.json()


def test_delete_removes_the_window_and_is_audited(api, cluster):
    created = create(api, cluster, **NIGHTLY)
    assert api.delete(f"{URL}{created['id']}/").status_code == 204
    assert not MaintenanceWindow.objects.exists()
    assert AuditEvent.objects.filter(action="window.delete", actor_name="alice").exists()
    assert api.delete(f"{URL}{created['id']}/").status_code == 404


def test_list_filters_by_cluster_and_reads_in_few_queries(api, viewer_api, cluster, django_assert_max_num_queries):
    other = ClusterFactory(name="staging")
    mine = [create(api, cluster, **NIGHTLY)["id"] for _ in range(5)]
    theirs = create(api, other, kind="one_off", starts_at=later(days=1), ends_at=later(days=1, hours=1))["id"]
    with django_assert_max_num_queries(5):
        rows = viewer_api.get(URL).json()["results"]
    assert [r["id"] for r in rows] == [*mine, theirs]
    assert [r["id"] for r in viewer_api.get(f"{URL}?cluster={other.pk}").json()["results"]] == [theirs]
    assert viewer_api.get(f"{URL}{theirs}/").json()["cluster_name"] == "staging"
    for query, field in (("cluster=prod", "cluster"), ("clutser=1", "clutser")):
        response = viewer_api.get(f"{URL}?{query}")
        assert response.status_code == 400 and field in response.json()


def test_viewers_read_windows_but_cannot_change_them(api, vera, olga, adam, rita, nora, cluster):
    created = create(api, cluster, **NIGHTLY)
    for user in (vera, olga, adam, rita):
        client = client_for(user)
        assert client.get(f"{URL}{created['id']}/").status_code == 200
        response = client.post(URL, {"cluster": cluster.pk, **NIGHTLY}, format="json")
        assert response.status_code == 403 and "admin" in response.json()["detail"]
        assert client.patch(f"{URL}{created['id']}/", {"label": "x"}, format="json").status_code == 403
        assert client.put(f"{URL}{created['id']}/", NIGHTLY, format="json").status_code == 403
        assert client.delete(f"{URL}{created['id']}/").status_code == 403
    assert client_for(nora).get(URL).status_code == 403
    assert MaintenanceWindow.objects.count() == 1
    assert MaintenanceWindow.objects.get().label == "nightly"
    assert list(AuditEvent.objects.filter(action__startswith="window.").values_list("action", flat=True)) == [
        "window.create"
    ]


def test_unknown_windows_are_404(viewer_api, api):
    assert viewer_api.get(f"{URL}424242/").status_code == 404
    assert api.patch(f"{URL}424242/", {"label": "x"}, format="json").status_code == 404
    assert viewer_api.get(f"{URL}abc/").status_code == 404
