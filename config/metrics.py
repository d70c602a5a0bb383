"""/metrics: Drainboard's state in the Prometheus text format, from a few aggregate queries, cached a few seconds."""

from __future__ import annotations

import hmac
import ipaddress
import math
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

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

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CACHE_KEY = "drainboard:metrics:text"
# Seconds; the last bucket, +Inf, is implied. From a quick eviction to a drain held up by a budget for minutes.
TIME_TO_EVICT_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600)
# The same states the tick retries in (evictions.services.pods.pods_due): due work nobody has picked up.
_RUNNING = (RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION)


# --- The exposition format -----------------------------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _sample(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
        return f"{name}{{{inner}}} {_number(value)}"
    return f"{name} {_number(value)}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        suffix = "_total" if kind == "counter" else ""
        self.lines.extend(_sample(name + suffix, value, labels) for labels, value in samples)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# --- Collection: one aggregate query per family --------------------------------------------------------------------


def collect(now_ts: float | None = None) -> str:
    """Render every metric. Six queries whatever the size of the tables (a test holds this bound)."""
    now_ts = time.time() if now_ts is None else now_ts
    now = timezone.now()
    out = _Writer()

    # 1. Requests by status: every status appears, with 0 when none.
    by_status = dict(EvictionRequest.objects.order_by().values_list("status").annotate(n=Count("id")))
    out.family(
        "drainboard_eviction_requests",
        "gauge",
        "Eviction requests by status.",
        (({"status": status}, by_status.get(status, 0)) for status in RequestStatus.values),
    )

    # 2. Attempts by answer: kind (evict / delete) and HTTP status ("none": no answer, a transport error).
    attempts = (
        EvictionAttempt.objects.order_by()
        .values_list("kind", "http_status")
        .annotate(n=Count("id"))
        .order_by("kind", "http_status")
    )
    out.family(
        "drainboard_eviction_attempts",
        "counter",
        "Calls made to clusters' eviction (or pod delete) endpoints, by kind and HTTP answer code.",
        (
            ({"kind": kind, "code": "none" if code is None else str(code)}, n)
            for kind, code, n in attempts  # type: ignore[misc]
        ),
    )

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
    out.family(
        "drainboard_pods_blocked",
        "gauge",
        "Pod evictions currently refused by a PodDisruptionBudget, per cluster.",
        (({"cluster": name}, per_cluster.get(pk, (0, 0))[0]) for pk, name, _, _ in clusters),
    )
    out.family(
        "drainboard_pods_needing_intervention",
        "gauge",
        "Pod evictions waiting for a person, per cluster.",
        (({"cluster": name}, per_cluster.get(pk, (0, 0))[1]) for pk, name, _, _ in clusters),
    )
    out.family(
        "drainboard_cluster_paused",
        "gauge",
        "1 when all automation on the cluster is paused.",
        (({"cluster": name}, int(paused)) for _, name, paused, _ in clusters),
    )
    out.family(
        "drainboard_cluster_reachable",
        "gauge",
        "1 when the cluster's last connectivity check succeeded, 0 when it failed (absent: never checked).",
        (({"cluster": name}, int(reachable)) for _, name, _, reachable in clusters if reachable is not None),
    )

    # 5. Time to evict: the cumulative histogram from one pass over the finished pods.
    timed = PodEviction.objects.order_by().filter(seconds_to_evict__isnull=False)
    aggregates = {
        f"le_{index}": Count("id", filter=Q(seconds_to_evict__lte=bound))
        for index, bound in enumerate(TIME_TO_EVICT_BUCKETS)
    }
    row = timed.aggregate(count=Count("id"), total=Sum("seconds_to_evict"), **aggregates)
    buckets = [({"le": _number(bound)}, row[f"le_{index}"]) for index, bound in enumerate(TIME_TO_EVICT_BUCKETS)]
    buckets.append(({"le": "+Inf"}, row["count"]))
    name = "drainboard_time_to_evict_seconds"
    out.lines.append(f"# HELP {name} From a pod eviction's first attempt until its pod was gone.")
    out.lines.append(f"# TYPE {name} histogram")
    out.lines.extend(_sample(f"{name}_bucket", value, labels) for labels, value in buckets)
    out.lines.append(_sample(f"{name}_sum", float(row["total"] or 0.0)))
    out.lines.append(_sample(f"{name}_count", row["count"]))

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
    out.family(
        "drainboard_oldest_due_pod_eviction_age_seconds",
        "gauge",
        "How long the longest-waiting due and unclaimed pod eviction has been due (0: none is waiting).",
        [({}, max(0.0, (now - oldest).total_seconds()) if oldest else 0)],
    )

    # The tick's heartbeat (no query: Redis or a file).
    out.family(
        "drainboard_tick_interval_seconds",
        "gauge",
        "How often beat runs the tick (TICK_SECONDS).",
        [({}, settings.TICK_SECONDS)],
    )
    started = last_tick()
    if started is not None:
        out.family(
            "drainboard_tick_last_run_timestamp_seconds",
            "gauge",
            "Unix time at which the last tick started.",
            [({}, round(started, 3))],
        )
        out.family(
            "drainboard_tick_lag_seconds",
            "gauge",
            "Seconds since the last tick started; well above the interval means beat or the workers are behind.",
            [({}, round(max(0.0, now_ts - started), 3))],
        )
    return out.text()


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
