"""/metrics: Drainboard's state in the Prometheus text format, from a few aggregate queries, cached a few seconds."""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from clusters.models import Cluster
from core.heartbeat import last_tick
from evictions.models import (
    POD_WAITING_TO_TRY,
    EvictionAttempt,
    EvictionRequest,
    PodEviction,
    PodStatus,
    RequestStatus,
)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes (the library's default is now 1.0.0)
CACHE_KEY = "drainboard:metrics:text"
# Seconds; the last bucket, +Inf, is implied. From a quick eviction to a drain held up by a budget for minutes.
TIME_TO_EVICT_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600)
# The same states the tick retries in (evictions.services.pods.pods_due): due work nobody has picked up.
_RUNNING = (RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION)


# --- Collection: one aggregate query per family; prometheus_client writes the text format --------------------------


class DrainboardCollector(Collector):
    """Reads the database (and the tick's heartbeat) on every collection; nothing is counted in process memory, so
    every web process answers the same and a restart loses nothing."""

    def collect(self) -> Iterator[Metric]:
        now_ts = time.time()
        now = timezone.now()

        # 1. Requests by status: every status appears, with 0 when none.
        by_status = dict(EvictionRequest.objects.order_by().values_list("status").annotate(n=Count("id")))
        requests = GaugeMetricFamily("drainboard_eviction_requests", "Eviction requests by status.", labels=["status"])
        for status in RequestStatus.values:
            requests.add_metric([status], by_status.get(status, 0))
        yield requests

        # 2. Attempts by answer: kind (evict / delete) and HTTP status ("none": no answer, a transport error).
        # The family is named without "_total"; the library adds it to the sample (drainboard_eviction_attempts_total).
        attempts = CounterMetricFamily(
            "drainboard_eviction_attempts",
            "Calls made to clusters' eviction (or pod delete) endpoints, by kind and HTTP answer code.",
            labels=["kind", "code"],
        )
        for kind, code, n in (
            EvictionAttempt.objects.order_by()
            .values_list("kind", "http_status")
            .annotate(n=Count("id"))
            .order_by("kind", "http_status")
        ):
            attempts.add_metric([kind, "none" if code is None else str(code)], n)
        yield attempts

        # 3. Blocked and stuck pods per cluster; 4. cluster names (every cluster gets a sample, 0 included).
        per_cluster: dict[int, tuple[int, int]] = {
            row["request__cluster_id"]: (row["blocked"], row["stuck"])
            for row in PodEviction.objects.order_by()
            .filter(status__in=[PodStatus.BLOCKED, PodStatus.NEEDS_INTERVENTION])
            .values("request__cluster_id")
            .annotate(
                blocked=Count("id", filter=Q(status=PodStatus.BLOCKED)),
                stuck=Count("id", filter=Q(status=PodStatus.NEEDS_INTERVENTION)),
            )
        }
        clusters = list(Cluster.objects.order_by("name").values_list("pk", "name", "paused", "reachable"))
        blocked = GaugeMetricFamily(
            "drainboard_pods_blocked",
            "Pod evictions currently refused by a PodDisruptionBudget, per cluster.",
            labels=["cluster"],
        )
        stuck = GaugeMetricFamily(
            "drainboard_pods_needing_intervention",
            "Pod evictions waiting for a person, per cluster.",
            labels=["cluster"],
        )
        paused = GaugeMetricFamily(
            "drainboard_cluster_paused", "1 when all automation on the cluster is paused.", labels=["cluster"]
        )
        reachable = GaugeMetricFamily(
            "drainboard_cluster_reachable",
            "1 when the cluster's last connectivity check succeeded, 0 when it failed (absent: never checked).",
            labels=["cluster"],
        )
        for pk, name, is_paused, is_reachable in clusters:
            counts = per_cluster.get(pk, (0, 0))
            blocked.add_metric([name], counts[0])
            stuck.add_metric([name], counts[1])
            paused.add_metric([name], int(is_paused))
            if is_reachable is not None:
                reachable.add_metric([name], int(is_reachable))
        yield from (blocked, stuck, paused, reachable)

        # 5. Time to evict: the cumulative histogram from one pass over the finished pods.
        aggregates = {
            f"le_{index}": Count("id", filter=Q(seconds_to_evict__lte=bound))
            for index, bound in enumerate(TIME_TO_EVICT_BUCKETS)
        }
        row = (
            PodEviction.objects.order_by()
            .filter(seconds_to_evict__isnull=False)
            .aggregate(count=Count("id"), total=Sum("seconds_to_evict"), **aggregates)
        )
        histogram = HistogramMetricFamily(
            "drainboard_time_to_evict_seconds", "From a pod eviction's first attempt until its pod was gone."
        )
        # Bounds are written as given (le="1", not the library's usual "1.0"), as they always were: queries and
        # dashboards that select a bucket by its label keep working.
        buckets = [(str(bound), row[f"le_{index}"]) for index, bound in enumerate(TIME_TO_EVICT_BUCKETS)]
        histogram.add_metric([], [*buckets, ("+Inf", row["count"])], float(row["total"] or 0.0))
        yield histogram

        # 6. The queue: the oldest pod eviction that is due and that no worker has claimed (what the tick re-enqueues).
        oldest = (
            PodEviction.objects.order_by()
            .filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
                status__in=POD_WAITING_TO_TRY,
                next_attempt_at__lte=now,
                request__status__in=_RUNNING,
                request__cluster__paused=False,
            )
            .aggregate(oldest=Min("next_attempt_at"))["oldest"]
        )
        yield GaugeMetricFamily(
            "drainboard_oldest_due_pod_eviction_age_seconds",
            "How long the longest-waiting due and unclaimed pod eviction has been due (0: none is waiting).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0,
        )

        # The tick's heartbeat (no query: Redis or a file).
        yield GaugeMetricFamily(
            "drainboard_tick_interval_seconds",
            "How often beat runs the tick (TICK_SECONDS).",
            value=settings.TICK_SECONDS,
        )
        started = last_tick()
        if started is not None:
            yield GaugeMetricFamily(
                "drainboard_tick_last_run_timestamp_seconds",
                "Unix time at which the last tick started.",
                value=round(started, 3),
            )
            yield GaugeMetricFamily(
                "drainboard_tick_lag_seconds",
                "Seconds since the last tick started; well above the interval means beat or the workers are behind.",
                value=round(max(0.0, now_ts - started), 3),
            )


# Our own registry, not the library's global one: /metrics shows Drainboard's state, not this process's (whose
# numbers would differ between the web processes behind one address).
_REGISTRY = CollectorRegistry(auto_describe=False)
_REGISTRY.register(DrainboardCollector())


# prometheus_client heads a counter's HELP and TYPE lines with its sample's name (drainboard_eviction_attempts_total);
# /metrics has always named the family there (drainboard_eviction_attempts), the sample keeping its _total. Both
# forms are read by Prometheus; the header is kept as it was so that nothing reading it has to change.
_COUNTERS = ("drainboard_eviction_attempts",)
_COUNTER_HEADER = re.compile(rf"^# (HELP|TYPE) ({'|'.join(_COUNTERS)})_total ", re.MULTILINE)


def collect() -> str:
    """Render every metric. Six queries whatever the size of the tables (a test holds this bound)."""
    return _COUNTER_HEADER.sub(r"# \1 \2 ", generate_latest(_REGISTRY).decode())


# --- Access and the view -------------------------------------------------------------------------------------------


def _client_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Open to METRICS_ALLOWED_CIDRS, or to anyone with `Authorization: Bearer METRICS_TOKEN`; else 403."""
    if not _client_allowed(request):
        return HttpResponse(
            "Forbidden: metrics are served to allowed networks or with the bearer token.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    text = cache.get(CACHE_KEY)
    if text is None:
        text = collect()
        cache.set(CACHE_KEY, text, settings.METRICS_CACHE_SECONDS)
    return HttpResponse(text, content_type=CONTENT_TYPE)
