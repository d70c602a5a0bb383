"""History of one object: a request with its pods, a cluster; bounded, newest first, on their pages."""

from __future__ import annotations

import pytest
from django.db import transaction

from audit.selectors import audit_cluster_history, audit_request_history, compact_value
from audit.services import System, audit_record
from evictions.models import EvictionRequest, PodEviction
from tests.factories import ClusterFactory


def _record(action: str, **kwargs):
    with transaction.atomic():
        return audit_record(actor=System("test"), action=action, **kwargs)


@pytest.fixture
def setting(alice):
    prod, other = ClusterFactory(name="prod"), ClusterFactory(name="other")
    req = EvictionRequest.objects.create(cluster=prod, kind="pods", requester=alice, reason="r")
    elsewhere = EvictionRequest.objects.create(cluster=other, kind="pods", requester=alice, reason="r")
    pod = PodEviction.objects.create(request=req, namespace="shop", name="web-1", uid="u1")
    foreign_pod = PodEviction.objects.create(request=elsewhere, namespace="shop", name="web-2", uid="u2")
    events = {
        "created": _record("request.create", target=req, cluster=prod),
        "pod": _record("pod.evicted", target=pod, cluster=prod, details={"request": req.pk, "pod": "shop/web-1"}),
        "cluster": _record("cluster.pause", target=prod, cluster=prod),
        "other": _record("request.create", target=elsewhere, cluster=other),
        "foreign_pod": _record("pod.evicted", target=foreign_pod, cluster=other, details={"request": elsewhere.pk}),
    }
    return prod, req, events


@pytest.mark.django_db
def test_request_history_has_the_request_and_its_pods_newest_first(setting):
    _, req, events = setting
    history = audit_request_history(request_id=req.pk)
    assert [row.event.pk for row in history.rows] == [events["pod"].pk, events["created"].pk]
    assert history.search_url == f"/audit/?request={req.pk}"
    assert not history.more


@pytest.mark.django_db
def test_cluster_history_is_everything_on_the_cluster_and_bounded(setting):
    prod, _, events = setting
    for i in range(4):
        _record("test.more", cluster=prod, details={"i": i})
    history = audit_cluster_history(cluster_id=prod.pk, limit=5)
    assert len(history.rows) == 5 and history.more
    assert events["other"].pk not in {row.event.pk for row in history.rows}
    assert history.search_url == f"/audit/?cluster={prod.pk}"


@pytest.mark.django_db
def test_request_and_cluster_pages_show_their_history_with_a_link_to_the_search(admin_client, setting):
    prod, req, events = setting
    html = admin_client.get(f"/requests/{req.pk}/").content.decode()
    assert 'id="audit-history"' in html
    assert f'href="/audit/?request={req.pk}"' in html
    assert f'id="event-{events["pod"].pk}"' in html and f'id="event-{events["other"].pk}"' not in html

    html = admin_client.get(f"/clusters/{prod.pk}/").content.decode()
    assert f'href="/audit/?cluster={prod.pk}"' in html
    assert f'id="event-{events["cluster"].pk}"' in html and f'id="event-{events["other"].pk}"' not in html


def test_compact_values_fit_one_line():
    assert compact_value("a\n  b") == "a b"
    assert compact_value({"x": [1, "é"]}) == '{"x": [1, "é"]}'
    assert len(compact_value("z" * 1000)) == 160


# ---- the chain walk -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("events", [130, 520])
def test_the_whole_chain_is_read_in_keyset_batches_never_all_at_once(events, monkeypatch):
    """Bounded memory: every read of audit rows during a full verification is one batch (LIMIT, from the last
    sequence read), so the number of reads grows with events / batch and no read returns more than a batch."""
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import selectors
    from audit.services import audit_verification_advance

    monkeypatch.setattr(selectors, "VERIFY_CHUNK", 50)
    monkeypatch.setattr(selectors, "DIGEST_CHUNK", 50)
    for i in range(events):
        _record("test.event", details={"i": i})
    with CaptureQueriesContext(connection) as queries:
        state = audit_verification_advance(full=True)
    assert (state.verified_count, state.broken) == (events, False)
    reads = [q["sql"] for q in queries.captured_queries if re.search(r'FROM "audit_auditevent"', q["sql"])]
    assert reads and all(re.search(r"LIMIT 50\b", sql) for sql in reads), reads
    assert len(reads) == events // 50 + 1
