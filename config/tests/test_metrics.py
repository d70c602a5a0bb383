"""/metrics: the Prometheus text format parses, values match the rows, a bounded number of queries, access rules."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from config import metrics
from core.heartbeat import record_tick
from evictions.models import EvictionAttempt, EvictionRequest, PodEviction, PodStatus, RequestStatus
from tests.factories import ClusterFactory

TOKEN = "metrics-token-0123456789abcdef"
_SAMPLE = re.compile(
    r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})?'
    r" (?P<value>[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|Inf|NaN))$"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def parse(text: str) -> tuple[dict[str, str], dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    """A strict reader of the text format: every line is a HELP, a TYPE or a sample of a declared family."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"counter", "gauge", "histogram"}
            assert name not in types, f"family {name} declared twice"
            types[name] = kind
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name = match["name"]
        family = re.sub(r"(_total|_bucket|_sum|_count)$", "", name)
        assert family in types or name in types, f"sample {name} without a TYPE line"
        labels = frozenset(_LABEL.findall(match["labels"] or ""))
        assert (name, labels) not in samples, f"duplicate sample {line!r}"
        samples[(name, labels)] = float(match["value"])
    return types, samples


def value(samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture
def history(rita):
    """Two clusters; requests in three states; pods blocked, evicted (timed) and due; attempts with answers."""
    prod, staging = ClusterFactory(name="prod"), ClusterFactory(name="staging", paused=True, reachable=False)
    now = timezone.now()

    def request(cluster, status):
        return EvictionRequest.objects.create(cluster=cluster, requester=rita, kind="pods", reason="r", status=status)

    running = request(prod, RequestStatus.RUNNING)
    request(prod, RequestStatus.SUCCEEDED)
    request(staging, RequestStatus.SUCCEEDED)
    request(staging, RequestStatus.AWAITING_APPROVAL)

    def pod(name, status, **values):
        return PodEviction.objects.create(
            request=running, namespace="shop", name=name, uid=name, status=status, **values
        )

    blocked = pod("web-1", PodStatus.BLOCKED, next_attempt_at=now - timedelta(seconds=90))
    pod("web-2", PodStatus.BLOCKED, next_attempt_at=now + timedelta(seconds=60))  # not due yet
    pod(
        "web-3",
        PodStatus.PENDING,
        next_attempt_at=now - timedelta(seconds=30),
        claimed_until=now + timedelta(seconds=10),
    )
    pod("web-4", PodStatus.NEEDS_INTERVENTION)
    for index, seconds in enumerate([0.5, 1.0, 4.0, 45.0, 700.0]):
        pod(f"gone-{index}", PodStatus.EVICTED, seconds_to_evict=seconds)
    for code, times in ((429, 3), (201, 2), (None, 1)):
        for _ in range(times):
            EvictionAttempt.objects.create(pod=blocked, at=now, http_status=code)
    EvictionAttempt.objects.create(pod=blocked, at=now, http_status=200, kind="delete")
    return {"prod": prod, "staging": staging}


def test_metrics_parse_and_match_the_rows(client, history):
    record_tick(time.time() - 7)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    types, samples = parse(response.content.decode())

    assert types["drainboard_eviction_requests"] == "gauge"
    assert value(samples, "drainboard_eviction_requests", status="running") == 1
    assert value(samples, "drainboard_eviction_requests", status="succeeded") == 2
    assert value(samples, "drainboard_eviction_requests", status="awaiting_approval") == 1
    assert value(samples, "drainboard_eviction_requests", status="cancelled") == 0

    assert types["drainboard_eviction_attempts"] == "counter"
    assert value(samples, "drainboard_eviction_attempts_total", kind="evict", code="429") == 3
    assert value(samples, "drainboard_eviction_attempts_total", kind="evict", code="201") == 2
    assert value(samples, "drainboard_eviction_attempts_total", kind="evict", code="none") == 1
    assert value(samples, "drainboard_eviction_attempts_total", kind="delete", code="200") == 1

    assert value(samples, "drainboard_pods_blocked", cluster="prod") == 2
    assert value(samples, "drainboard_pods_blocked", cluster="staging") == 0
    assert value(samples, "drainboard_pods_needing_intervention", cluster="prod") == 1
    assert value(samples, "drainboard_cluster_paused", cluster="staging") == 1
    assert value(samples, "drainboard_cluster_reachable", cluster="staging") == 0
    assert ("drainboard_cluster_reachable", frozenset({("cluster", "prod")})) not in samples  # never checked

    assert types["drainboard_time_to_evict_seconds"] == "histogram"
    buckets = {
        le: value(samples, "drainboard_time_to_evict_seconds_bucket", le=le)
        for le in ("1", "2", "5", "30", "60", "600", "+Inf")
    }
    assert buckets == {"1": 2, "2": 2, "5": 3, "30": 3, "60": 4, "600": 4, "+Inf": 5}
    assert value(samples, "drainboard_time_to_evict_seconds_count") == 5
    assert value(samples, "drainboard_time_to_evict_seconds_sum") == pytest.approx(750.5)

    # web-1 has been due for 90 s and nobody holds it; web-3 is claimed; web-2 is not due yet.
    assert value(samples, "drainboard_oldest_due_pod_eviction_age_seconds") == pytest.approx(90, abs=5)
    assert value(samples, "drainboard_tick_lag_seconds") == pytest.approx(7, abs=3)
    assert value(samples, "drainboard_tick_interval_seconds") > 0


def test_metrics_take_a_bounded_number_of_queries_and_are_cached(client, history):
    with CaptureQueriesContext(connection) as first:
        client.get("/metrics")
    assert len(first) <= 6
    # More clusters, requests and pods add rows, not queries.
    for index in range(5):
        history[f"extra-{index}"] = ClusterFactory(name=f"extra-{index}")
    metrics.collect()  # warm nothing: collect never caches
    with CaptureQueriesContext(connection) as uncached:
        metrics.collect()
    assert len(uncached) == len(first)
    with CaptureQueriesContext(connection) as cached:
        client.get("/metrics")
    assert len(cached) == 0  # served from the cache for METRICS_CACHE_SECONDS


def test_without_a_recorded_tick_there_is_no_lag_sample(client, db, monkeypatch):
    monkeypatch.setattr(metrics, "last_tick", lambda: None)  # no tick ever ran
    _, samples = parse(client.get("/metrics").content.decode())
    assert ("drainboard_tick_lag_seconds", frozenset()) not in samples
    assert value(samples, "drainboard_oldest_due_pod_eviction_age_seconds") == 0


@override_settings(METRICS_TOKEN=TOKEN)
def test_other_networks_need_the_bearer_token(client, db):
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", **outside).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token-000000000", **outside).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_allowed_networks_come_from_settings(client, db, settings):
    import ipaddress

    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    settings.METRICS_TOKEN = ""
    # Without a token configured, no Authorization header opens it.
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_label_values_are_escaped(rita):
    ClusterFactory(name='we"ird\\name')
    _, samples = parse(metrics.collect())
    assert value(samples, "drainboard_pods_blocked", cluster='we\\"ird\\\\name') == 0


def test_a_cluster_name_with_quotes_backslashes_and_newlines_stays_one_label_value(client, rita):
    ClusterFactory(name='a "b"\\c\nd')
    text = client.get("/metrics").content.decode()
    assert 'drainboard_pods_blocked{cluster="a \\"b\\"\\\\c\\nd"} 0' in text  # one line, escaped
    _, samples = parse(text)
    assert value(samples, "drainboard_cluster_paused", cluster='a \\"b\\"\\\\c\\nd') == 0


def test_the_counter_is_declared_under_its_family_name_and_sampled_with_total(client, history):
    lines = client.get("/metrics").content.decode().splitlines()
    assert "# TYPE drainboard_eviction_attempts counter" in lines
    assert not any(line.startswith("# TYPE drainboard_eviction_attempts_total") for line in lines)
    assert any(line.startswith("drainboard_eviction_attempts_total{") for line in lines)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"METRICS_ALLOWED_CIDRS": "10.0.0.0/8,not-a-network"}, "METRICS_ALLOWED_CIDRS must be comma-separated"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16"),
    ],
)
def test_bad_metrics_settings_stop_start_up(tmp_path, change, message):
    from config.tests.test_settings import production_env, run_manage

    result = run_manage({**production_env(tmp_path), **change}, "check")
    assert result.returncode != 0
    assert message in result.stderr
