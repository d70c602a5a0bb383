"""The audit page: search, keyset pages, safe details, bounded queries, exports that stream, the chain state."""

from __future__ import annotations

import csv
import io
import json
import types
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from audit.selectors import AuditFilters, audit_search
from audit.services import System, audit_record
from evictions.models import EvictionRequest, PodEviction
from tests.factories import ClusterFactory


def _event(action: str = "test.event", *, actor=None, cluster=None, target=None, when=None, **details) -> AuditEvent:
    with mock.patch("audit.services.timezone.now", return_value=when or timezone.now()), transaction.atomic():
        return audit_record(
            actor=actor or System("test"), action=action, cluster=cluster, target=target, details=details
        )


def _request(cluster, requester) -> EvictionRequest:
    return EvictionRequest.objects.create(cluster=cluster, kind="pods", requester=requester, reason="test")


def _pod(req: EvictionRequest, name: str) -> PodEviction:
    return PodEviction.objects.create(request=req, namespace="shop", name=name, uid=f"uid-{name}")


def _ids(html: str, events) -> list[int]:
    return [e.pk for e in events if f'id="event-{e.pk}"' in html]


@pytest.mark.django_db
def test_filters_by_actor_action_prefix_cluster_object_time_and_text(admin_client, alice):
    prod, dev = ClusterFactory(name="prod"), ClusterFactory(name="dev")
    req = _request(prod, alice)
    pod = _pod(req, "web-1")
    long_ago = timezone.now() - timedelta(days=40)
    a = _event("cluster.pause", actor=alice, cluster=prod, target=prod, reason="kernel upgrade")
    b = _event("pod.evicted", cluster=prod, target=pod, pod="shop/web-1", request=req.pk)
    c = _event("pod.blocked", cluster=dev, when=long_ago, pdb="shop/web-pdb")
    d = _event("request.approve", actor=alice, cluster=prod, target=req, comment="fine")
    everything = [a, b, c, d]

    def found(query: str) -> set[int]:
        response = admin_client.get(f"/audit/?{query}")
        assert response.status_code == 200
        return set(_ids(response.content.decode(), everything))

    assert found("actor=alice") == {a.pk, d.pk}
    assert found("action=pod.") == {b.pk, c.pk}
    assert found("action=pod.evicted") == {b.pk}
    assert found(f"cluster={prod.pk}") == {a.pk, b.pk, d.pk}
    assert found("cluster=dev") == {c.pk}
    assert found(f"object_type=request&object_id={req.pk}") == {d.pk}
    assert found(f"object_type=evictions.podeviction&object_id={pod.pk}") == {b.pk}
    assert found(f"request={req.pk}") == {b.pk, d.pk}
    assert found(f"until={(timezone.now() - timedelta(days=30)).date()}") == {c.pk}
    assert found(f"since={(timezone.now() - timedelta(days=1)).date()}") == {a.pk, b.pk, d.pk}
    assert found("q=KERNEL") == {a.pk}
    assert found("q=web-pdb") == {c.pk}
    assert found("q=alice") == {a.pk, d.pk}
    assert found("q=100%25") == set()  # a LIKE wildcard in the text is matched literally


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field, message",
    [
        ("since=yesterday", "since", "Give a date"),
        ("q=ab", "q", "at least 3"),
        ("object_id=5", "object_type", "Give the object type"),
        ("since=2025-06-02&until=2025-06-01", "until", "after From"),
        ("request=abc", "request", "whole number"),
        ("until=2025-13-45", "until", "Give a date"),
    ],
)
def test_bad_filters_are_form_errors_not_a_500(admin_client, query, field, message):
    _event()
    response = admin_client.get(f"/audit/?{query}")
    assert response.status_code == 200
    assert message in response.context["form"].errors[field][0]
    assert "nothing was searched" in response.content.decode()
    assert admin_client.get(f"/audit/export.csv?{query}").status_code == 400


@pytest.mark.django_db
def test_old_style_links_give_the_first_page_and_an_edited_cursor_says_so(admin_client):
    _event()
    for query in ("before=abc", "after=-1", "before=99999999999999999999999"):  # the page's links before cursors
        assert admin_client.get(f"/audit/?{query}").status_code == 200
    response = admin_client.get("/audit/?cursor=bm90LW91cnM")
    assert response.status_code == 400
    assert "This page link is not valid" in response.content.decode()
    assert len(response.context["rows"]) == 1


@pytest.mark.django_db
def test_keyset_pages_walk_older_and_back_newer_without_offset(admin_client):
    events = [_event(i=i) for i in range(120)]
    newest_first = [e.pk for e in reversed(events)]

    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get("/audit/")
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
    page = first.context["page"]
    assert [e.pk for e in page.rows] == newest_first[:50]
    assert page.prev_cursor == "" and page.next_cursor

    second = admin_client.get("/audit/", {"cursor": page.next_cursor}).context["page"]
    assert [e.pk for e in second.rows] == newest_first[50:100]
    third = admin_client.get("/audit/", {"cursor": second.next_cursor}).context["page"]
    assert [e.pk for e in third.rows] == newest_first[100:]
    assert third.next_cursor == ""

    back = admin_client.get("/audit/", {"cursor": third.prev_cursor}).context["page"]
    assert [e.pk for e in back.rows] == newest_first[50:100]
    html = admin_client.get("/audit/", {"action": "test.", "cursor": page.next_cursor}).content.decode()
    assert html.count("action=test.&amp;cursor=") == 2  # newer and older keep the search


@pytest.mark.django_db
def test_page_queries_stay_bounded_however_many_events_and_links(admin_client, alice):
    cluster = ClusterFactory()

    def fill(n: int) -> None:
        for i in range(n):
            req = _request(cluster, alice)
            _event("request.create", actor=alice, cluster=cluster, target=req, i=i)
            _event("pod.evicted", cluster=cluster, target=_pod(req, f"p{i}"), request=req.pk)

    fill(3)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get("/audit/").status_code == 200
    fill(30)
    with CaptureQueriesContext(connection) as many:
        html = admin_client.get("/audit/").content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(many.captured_queries) <= 12
    assert html.count('href="/requests/') >= 50


@pytest.mark.django_db
def test_rows_say_who_what_which_object_with_links_and_escaped_details(admin_client, alice):
    cluster = ClusterFactory(name="prod")
    req = _request(cluster, alice)
    pod = _pod(req, "web-1")
    _event("pod.skip", actor=alice, cluster=cluster, target=pod, pod="shop/web-1", request=req.pk, reason="<b>x</b>")
    _event("cluster.pause", cluster=cluster, target=cluster, note="a" * 500, nested={"k": [1, 2]})
    gone = ClusterFactory(name="gone")
    _event("cluster.delete", cluster=gone, target=gone)
    gone_pk = gone.pk
    gone.delete()

    html = admin_client.get("/audit/").content.decode()
    assert f'<a href="/requests/{req.pk}/">pod shop/web-1 (request #{req.pk})</a>' in html
    assert f'<a href="/clusters/{cluster.pk}/">cluster #{cluster.pk}</a>' in html
    assert f'<a href="/clusters/{cluster.pk}/">prod</a>' in html
    assert f"cluster #{gone_pk}</td>" in html  # no link to a page that no longer exists
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "a" * 159 + "…" in html and "a" * 200 not in html
    assert '{"k": [1, 2]}' in html.replace("&quot;", '"')
    assert "system:test" in html and "(system)" in html


@pytest.mark.django_db
def test_viewers_search_and_export_but_only_admins_verify_now(viewer_client, admin_client, nora):
    from django.test import Client

    _event()
    assert viewer_client.get("/audit/").status_code == 200
    assert viewer_client.get("/audit/export.csv").status_code == 200
    assert "Verify now" not in viewer_client.get("/audit/").content.decode()
    assert viewer_client.post("/audit/verify/").status_code == 403
    stranger = Client()
    stranger.force_login(nora)
    assert stranger.get("/audit/").status_code == 403
    assert stranger.get("/audit/export.json").status_code == 403

    assert "Verify now" in admin_client.get("/audit/").content.decode()
    response = admin_client.post("/audit/verify/", follow=True)
    assert "Hash chain verified up to event #1" in response.content.decode()


@pytest.mark.django_db
def test_page_shows_the_checkpoint_and_unverified_events(admin_client):
    _event()
    html = admin_client.get("/audit/").content.decode()
    assert "has not been verified yet" in html
    admin_client.post("/audit/verify/")
    _event()
    _event()
    html = admin_client.get("/audit/").content.decode()
    assert "verified up to event #1 (1 event)" in html
    assert "2 newer events not verified yet" in html


# ---- exports --------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_csv_export_streams_rows_before_the_end_and_matches_the_search(admin_client):
    for i in range(1200):
        _event("pod.evicted" if i % 3 else "request.create", i=i, note='comma, "quote"\nnewline')
    response = admin_client.get("/audit/export.csv?action=pod.")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    body = iter(response.streaming_content)
    assert not isinstance(response.streaming_content, list | tuple | bytes)
    first_text = next(body).decode()
    assert first_text.startswith("id,sequence,created_at,")
    assert 1 < len(list(csv.reader(io.StringIO(first_text)))) <= 500  # the first rows, long before the last

    text = first_text + b"".join(body).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = list(audit_search(AuditFilters(action="pod.")).values_list("id", flat=True))
    assert [int(r["id"]) for r in rows] == expected
    assert len(rows) == 800
    assert json.loads(rows[0]["details"])["note"] == 'comma, "quote"\nnewline'


@pytest.mark.django_db
def test_json_export_is_one_array_of_the_search(admin_client, alice):
    _event("request.create", actor=alice, x="<y>")
    _event("pod.evicted")
    response = admin_client.get("/audit/export.json?actor=alice")
    assert response.streaming
    data = json.loads(b"".join(response.streaming_content))
    assert [e["action"] for e in data] == ["request.create"]
    assert data[0]["details"] == {"x": "<y>"}
    assert set(data[0]) >= {"id", "sequence", "created_at", "actor_name", "hash", "prev_hash"}
    empty = json.loads(b"".join(admin_client.get("/audit/export.json?actor=nobody").streaming_content))
    assert empty == []
    assert admin_client.get("/audit/export.xml").status_code == 404


@pytest.mark.django_db
def test_export_reads_through_an_iterator_in_chunks():
    from audit import export

    _event()
    assert isinstance(export.csv_chunks(iter([])), types.GeneratorType)
    assert isinstance(export.json_chunks(iter([])), types.GeneratorType)
    with mock.patch.object(export, "FETCH_CHUNK", 1):
        rows = export.export_rows(AuditEvent.objects.all())
        assert not isinstance(rows, list)
        assert len(list(rows)) == 1


# ---- Verify now: the whole chain --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_now_checks_the_whole_chain_and_names_an_old_altered_event(admin_client):
    from audit.models import AuditVerification
    from audit.tests.test_chain import _tamper

    events = [_event(i=i) for i in range(6)]
    admin_client.post("/audit/verify/")
    assert AuditVerification.objects.get().verified_sequence == events[-1].sequence
    target = events[1]
    _tamper("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"i": 42}', target.pk])
    _event()

    html = admin_client.post("/audit/verify/", follow=True).content.decode()
    assert "does not verify" in html
    assert f"event id {target.pk} (sequence #{target.sequence})" in html
    state = AuditVerification.objects.get()
    assert (state.broken_event_id, state.scope) == (target.pk, "full")


@pytest.mark.django_db
def test_the_page_says_what_was_verified_whole_chain_or_new_events_only(admin_client):
    from audit.services import audit_verification_advance

    for i in range(3):
        _event(i=i)
    admin_client.post("/audit/verify/")
    html = admin_client.get("/audit/").content.decode()
    assert "verified up to event #3 (3 events)" in html
    assert "the whole chain, every event recomputed" in html
    _event()
    audit_verification_advance()  # the periodic check
    html = admin_client.get("/audit/").content.decode()
    assert "verified up to event #4 (4 events)" in html
    assert "new events #4 to #4 recomputed" in html
    assert "events #1 to #3 checked by the digest of their stored hashes" in html
    assert "whole chain, every event" not in html
    assert "The whole chain was last recomputed at" in html and "(3 events, up to #3)" in html


@pytest.mark.django_db
def test_verify_now_queues_a_long_chain_for_a_worker_and_the_page_says_so(
    admin_client, django_capture_on_commit_callbacks
):
    from audit import services

    for i in range(3):
        _event(i=i)
    with (
        mock.patch.object(services, "VERIFY_NOW_INLINE_LIMIT", 2),
        mock.patch.object(services, "send_verify_task") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        html = admin_client.post("/audit/verify/", follow=True).content.decode()
    send.assert_called_once_with("audit.tasks.verify_chain_full")
    assert "queued" in html
    assert "Whole-chain verification queued" in admin_client.get("/audit/").content.decode()
    polled = admin_client.get("/audit/chain-state/").content.decode()  # the section polls itself while queued
    assert 'hx-trigger="every 5s"' in polled and "Whole-chain verification queued" in polled
    from audit.tasks import verify_chain_full

    verify_chain_full()
    html = admin_client.get("/audit/").content.decode()
    assert "queued" not in html
    assert "the whole chain, every event recomputed" in html
