"""The audit API: filtered cursor pages, streamed exports, field errors by name, the read permission."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.services import System, audit_record
from tests.factories import ClusterFactory


def _events(n: int, action: str = "test.event", **kwargs) -> list:
    out = []
    for i in range(n):
        with transaction.atomic():
            out.append(audit_record(actor=System("test"), action=action, details={"i": i}, **kwargs))
    return out


@pytest.mark.django_db
def test_list_pages_by_cursor_newest_first(viewer_api):
    events = _events(7)
    with CaptureQueriesContext(connection) as queries:
        first = viewer_api.get("/api/v1/audit/?limit=3").json()
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
    assert [e["sequence"] for e in first["results"]] == [7, 6, 5]
    assert first["previous"] is None and "cursor=" in first["next"]
    second = viewer_api.get(first["next"]).json()
    assert [e["sequence"] for e in second["results"]] == [4, 3, 2]
    assert second["results"][0]["details"] == {"i": 3}
    assert second["results"][0]["hash"] == events[3].hash
    back = viewer_api.get(second["previous"]).json()
    assert [e["sequence"] for e in back["results"]] == [7, 6, 5] and back["previous"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(("limit", "shown"), [("2", 2), ("0", 5), ("abc", 5), ("-1", 5), ("9" * 30, 5)])
def test_a_limit_that_is_not_a_positive_number_gives_the_default_page(viewer_api, limit, shown):
    _events(5)
    assert len(viewer_api.get("/api/v1/audit/", {"limit": limit}).json()["results"]) == shown


@pytest.mark.django_db
def test_list_filters_like_the_page(api, alice):
    cluster = ClusterFactory(name="prod")
    _events(2, action="pod.evicted", cluster=cluster)
    _events(1, action="request.create")
    with transaction.atomic():
        audit_record(actor=alice, action="cluster.pause", cluster=cluster, details={"reason": "kernel upgrade"})
    assert len(api.get("/api/v1/audit/?action=pod.").json()["results"]) == 2
    assert len(api.get(f"/api/v1/audit/?cluster={cluster.pk}").json()["results"]) == 3
    assert len(api.get("/api/v1/audit/?cluster=prod&actor=alice").json()["results"]) == 1
    assert len(api.get("/api/v1/audit/?q=kernel").json()["results"]) == 1
    assert len(api.get("/api/v1/audit/?since=2000-01-01&until=2000-01-02").json()["results"]) == 0


@pytest.mark.django_db
def test_bad_filters_and_unknown_parameters_are_400_by_name(api):
    response = api.get("/api/v1/audit/?since=soon&q=ab&colour=red")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"since", "q", "colour"}
    assert body["colour"] == ["Unknown field."]
    assert api.get("/api/v1/audit/export.csv?since=soon").status_code == 400


@pytest.mark.django_db
def test_exports_stream_the_search_as_csv_and_json(api):
    _events(3, action="pod.evicted")
    _events(2, action="request.create")
    response = api.get("/api/v1/audit/export.csv?action=pod.")
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [int(r["sequence"]) for r in rows] == [3, 2, 1]
    response = api.get("/api/v1/audit/export.json?action=request.")
    assert response.streaming and response["Content-Type"] == "application/json"
    assert [e["sequence"] for e in json.loads(b"".join(response.streaming_content))] == [5, 4]
    assert api.get("/api/v1/audit/export.xml").status_code == 404


@pytest.mark.django_db
def test_reading_needs_the_audit_permission(nora):
    client = APIClient()
    assert client.get("/api/v1/audit/").status_code in (401, 403)
    client.force_authenticate(nora)
    response = client.get("/api/v1/audit/")
    assert response.status_code == 403
    assert "viewer" in response.json()["detail"]
    assert client.get("/api/v1/audit/export.csv").status_code == 403


@pytest.mark.django_db
def test_schema_lists_the_audit_endpoints(api):
    schema = api.get("/api/schema/?format=json").json()
    assert "/api/v1/audit/" in schema["paths"]
    assert "/api/v1/audit/export.{fmt}" in schema["paths"]


@pytest.mark.django_db
def test_an_edited_cursor_is_a_400_on_cursor_as_documented(viewer_api):
    _events(3)
    response = viewer_api.get("/api/v1/audit/", {"cursor": "bm90LW91cnM"})
    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]
    assert "400" in viewer_api.get("/api/schema/?format=json").json()["paths"]["/api/v1/audit/"]["get"]["responses"]


@pytest.mark.django_db
def test_the_schema_of_the_json_export_is_the_array_it_answers(viewer_api):
    _events(2)
    rows = json.loads(b"".join(viewer_api.get("/api/v1/audit/export.json").streaming_content))
    assert isinstance(rows, list) and len(rows) == 2
    schema = viewer_api.get("/api/schema/?format=json").json()
    content = schema["paths"]["/api/v1/audit/export.{fmt}"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["type"] == "array"
