"""Rows the notification tests share: an eviction request, a blocked pod, endpoints."""

from __future__ import annotations

from datetime import datetime

from evictions.models import EvictionRequest, PodEviction, PodStatus, RequestStatus
from notifications.models import EndpointKind, NotificationEndpoint


def make_request(cluster, requester, **fields) -> EvictionRequest:
    values = {"kind": "drain", "node": "node-2", "reason": "kernel upgrade", "status": RequestStatus.RUNNING}
    values.update(fields)
    request = EvictionRequest.objects.create(cluster=cluster, requester=requester, **values)
    return EvictionRequest.objects.select_related("cluster", "requester").get(pk=request.pk)


def make_blocked_pod(request, name: str, since: datetime, **fields) -> PodEviction:
    values = {
        "namespace": "shop",
        "name": name,
        "uid": f"uid-{name}",
        "node": request.node,
        "status": PodStatus.BLOCKED,
        "blocked_since": since,
        "blocking_pdb": "shop/web-pdb",
        "budget_needs": 2,
        "budget_has": 2,
    }
    values.update(fields)
    return PodEviction.objects.create(request=request, **values)


def make_webhook(url: str, *, events=None, cluster=None, **fields) -> NotificationEndpoint:
    return NotificationEndpoint.objects.create(
        name=fields.pop("name", "chat"),
        kind=EndpointKind.WEBHOOK,
        url_secret=url,
        events=list(events or ["approval_requested"]),
        cluster=cluster,
        **fields,
    )


def make_email(addresses: str, *, events=None, cluster=None, **fields) -> NotificationEndpoint:
    return NotificationEndpoint.objects.create(
        name=fields.pop("name", "mail"),
        kind=EndpointKind.EMAIL,
        emails=addresses,
        events=list(events or ["approval_requested"]),
        cluster=cluster,
        **fields,
    )
