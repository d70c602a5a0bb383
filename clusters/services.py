"""Every change to a cluster, with its permission check and its audit event in one transaction."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.permissions import require_perm
from audit.services import Actor, System, audit_record
from clusters import kube
from clusters.kubeconfig import parse_kubeconfig
from clusters.models import Cluster, CredentialKind, Credentials
from clusters.signals import cluster_event
from clusters.validation import validate_api_url, validate_ca_pem, validate_cluster_name, validate_token

MAX_QPS = 1000
MAX_CONCURRENT_DRAINS = 100


def _authorize(actor: Actor, perm: str) -> None:
    if not isinstance(actor, System):
        require_perm(actor, perm)


@dataclass(frozen=True)
class ConnectionInput:
    api_url: str
    ca_pem: str
    credentials: Credentials
    credential_kind: str
    source: str  # "form", or "kubeconfig context NAME"
    suggested_name: str = ""


def _collect(errors: dict[str, list[str]], field: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except ValidationError as error:
        errors.setdefault(field, []).extend(error.messages)
        return None


def connection_from_input(
    *, api_url: str = "", ca_pem: str = "", token: str = "", kubeconfig: str = "", context: str = ""
) -> ConnectionInput:
    """Validate either a kubeconfig (and context) or URL + CA + token; all problems at once, by field."""
    errors: dict[str, list[str]] = {}
    allow_http = settings.ALLOW_HTTP_CLUSTERS
    if kubeconfig and kubeconfig.strip():
        if api_url or token:
            raise ValidationError({"kubeconfig": ["Give either a kubeconfig or a URL and token, not both."]})
        entry = parse_kubeconfig(kubeconfig, context or None)
        url = _collect(errors, "kubeconfig", validate_api_url, entry.server, allow_http=allow_http)
        if errors:
            raise ValidationError(errors)
        creds = Credentials(entry.token, entry.client_cert_pem, entry.client_key_pem)
        kind = CredentialKind.TOKEN if entry.token else CredentialKind.CLIENT_CERTIFICATE
        suggested = re.sub(r"[^a-z0-9-]+", "-", entry.context.lower()).strip("-")[:63]
        return ConnectionInput(url, entry.ca_pem, creds, kind, f"kubeconfig context {entry.context}", suggested)
    url = _collect(errors, "api_url", validate_api_url, api_url, allow_http=allow_http)
    ca = _collect(errors, "ca_pem", validate_ca_pem, ca_pem)
    tok = _collect(errors, "token", validate_token, token)
    if errors:
        raise ValidationError(errors)
    return ConnectionInput(url, ca, Credentials(token=tok), CredentialKind.TOKEN, "form")


def _validate_qps(qps_limit: Any) -> int:
    if isinstance(qps_limit, bool) or not isinstance(qps_limit, int) or not 1 <= qps_limit <= MAX_QPS:
        raise ValidationError({"qps_limit": [f"Enter a whole number of requests per second from 1 to {MAX_QPS}."]})
    return qps_limit


def _validate_drains(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENT_DRAINS:
        raise ValidationError(
            {"max_concurrent_drains": [f"Enter how many nodes may drain at once, 1 to {MAX_CONCURRENT_DRAINS}."]}
        )
    return value


def _name_taken(name: str, exclude_pk: int | None = None) -> bool:
    others = Cluster.objects.filter(name=name)
    return (others.exclude(pk=exclude_pk) if exclude_pk is not None else others).exists()


def cluster_create(*, actor: Actor, name: str, connection: ConnectionInput, qps_limit: int = 10) -> Cluster:
    _authorize(actor, "clusters.add_cluster")
    errors: dict[str, list[str]] = {}
    clean_name = _collect(errors, "name", validate_cluster_name, name or connection.suggested_name)
    if clean_name and _name_taken(clean_name):
        errors.setdefault("name", []).append(f"A cluster named {clean_name!r} already exists.")
    _collect(errors, "qps_limit", _validate_qps, qps_limit)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            cluster = Cluster.objects.create(
                name=clean_name,
                api_url=connection.api_url,
                ca_pem=connection.ca_pem,
                credential_kind=connection.credential_kind,
                credentials_secret=connection.credentials.to_json(),
                qps_limit=qps_limit,
                created_by=actor if isinstance(actor, get_user_model()) else None,
            )
            audit_record(
                actor=actor,
                action="cluster.create",
                target=cluster,
                cluster=cluster,
                details={
                    "name": cluster.name,
                    "api_url": cluster.api_url,
                    "credential_kind": cluster.credential_kind,
                    "source": connection.source,
                    "qps_limit": qps_limit,
                },
            )
    except IntegrityError:
        raise ValidationError({"name": [f"A cluster named {clean_name!r} already exists."]}) from None
    return cluster


def cluster_update(
    *,
    actor: Actor,
    cluster: Cluster,
    name: str | None = None,
    connection: ConnectionInput | None = None,
    api_url: str | None = None,
    ca_pem: str | None = None,
    token: str | None = None,
    qps_limit: int | None = None,
    max_concurrent_drains: int | None = None,
) -> Cluster:
    """Change what was given; a blank token keeps the stored one. Secrets appear in the audit only as 'replaced'."""
    _authorize(actor, "clusters.change_cluster")
    errors: dict[str, list[str]] = {}
    changes: dict[str, Any] = {}
    if name is not None and name != cluster.name:
        clean = _collect(errors, "name", validate_cluster_name, name)
        if clean and _name_taken(clean, cluster.pk):
            errors.setdefault("name", []).append(f"A cluster named {clean!r} already exists.")
        changes["name"] = clean
    if connection is not None:
        changes.update(api_url=connection.api_url, ca_pem=connection.ca_pem, credential_kind=connection.credential_kind)
        changes["credentials_secret"] = connection.credentials.to_json()
    else:
        if api_url is not None and api_url != cluster.api_url:
            changes["api_url"] = _collect(
                errors, "api_url", validate_api_url, api_url, allow_http=settings.ALLOW_HTTP_CLUSTERS
            )
        if ca_pem is not None and ca_pem.strip() != cluster.ca_pem.strip():
            changes["ca_pem"] = _collect(errors, "ca_pem", validate_ca_pem, ca_pem)
        if token:
            clean_token = _collect(errors, "token", validate_token, token)
            changes["credentials_secret"] = Credentials(token=clean_token or "").to_json()
            changes["credential_kind"] = CredentialKind.TOKEN
    if qps_limit is not None and qps_limit != cluster.qps_limit:
        changes["qps_limit"] = _collect(errors, "qps_limit", _validate_qps, qps_limit)
    if max_concurrent_drains is not None and max_concurrent_drains != cluster.max_concurrent_drains:
        changes["max_concurrent_drains"] = _collect(
            errors, "max_concurrent_drains", _validate_drains, max_concurrent_drains
        )
    if errors:
        raise ValidationError(errors)
    if not changes:
        return cluster
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        for field, value in changes.items():
            setattr(locked, field, value)
        if {"api_url", "ca_pem", "credentials_secret"} & changes.keys():
            locked.reachable, locked.last_checked_at = None, None  # what was learned no longer applies
        try:
            locked.save()
        except IntegrityError:
            raise ValidationError({"name": ["A cluster with that name already exists."]}) from None
        shown = {k: v for k, v in changes.items() if k not in {"credentials_secret", "ca_pem"}}
        if "ca_pem" in changes:
            shown["ca_pem"] = "changed"
        if "credentials_secret" in changes:
            shown["credentials"] = "replaced"
        audit_record(actor=actor, action="cluster.update", target=locked, cluster=locked, details={"changes": shown})
    kube.forget_client(locked.pk)
    return locked


def cluster_delete(*, actor: Actor, cluster: Cluster) -> None:
    _authorize(actor, "clusters.delete_cluster")
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="cluster.delete",
            target=cluster,
            cluster=cluster,
            details={"name": cluster.name, "api_url": cluster.api_url},
        )
        cluster.delete()
    kube.forget_client(cluster.pk or 0)


def cluster_check(*, actor: Actor, cluster: Cluster) -> kube.Connectivity:
    """Run the connectivity check (outside any transaction: it waits on the network) and record what it found."""
    _authorize(actor, "clusters.check_cluster")
    result = kube.check_connectivity(kube.Endpoint.for_cluster(cluster))
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().filter(pk=cluster.pk).first()
        if locked is None:
            return result  # deleted while we were checking
        was = locked.reachable
        locked.reachable = result.reachable
        locked.server_version = result.server_version or (locked.server_version if not result.reachable else "")
        locked.eviction_api_version = result.eviction_api_version if result.reachable else locked.eviction_api_version
        locked.last_error = result.error[:1000]
        locked.last_checked_at = timezone.now()
        locked.save(
            update_fields=["reachable", "server_version", "eviction_api_version", "last_error", "last_checked_at"]
        )
        # A person's check is always recorded; the periodic check only when reachability changes.
        if not isinstance(actor, System) or was != result.reachable:
            audit_record(
                actor=actor,
                action="cluster.check",
                target=locked,
                cluster=locked,
                details={
                    "reachable": result.reachable,
                    "server_version": result.server_version,
                    "eviction_api_version": result.eviction_api_version,
                    "error": result.error,
                    "error_kind": str(result.error_kind),
                },
            )
    cluster.refresh_from_db()
    return result


def clusters_due_for_check() -> list[int]:
    """Clusters whose last check is older than CLUSTER_CHECK_INTERVAL_SECONDS (or never ran)."""
    cutoff = timezone.now() - timedelta(seconds=settings.CLUSTER_CHECK_INTERVAL_SECONDS)
    due = Cluster.objects.filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=cutoff))
    return list(due.values_list("pk", flat=True))


def cluster_pause(*, actor: Actor, cluster: Cluster, reason: str) -> Cluster:
    """Halt all automation on the cluster: no new attempt starts; calls already in flight finish."""
    _authorize(actor, "evictions.intervene_evictionrequest")
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise ValidationError({"reason": ["Give a reason (at most 500 characters); it is shown and audited."]})
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        locked.paused, locked.paused_reason = True, reason
        locked.save(update_fields=["paused", "paused_reason", "updated_at"])
        audit_record(actor=actor, action="cluster.pause", target=locked, cluster=locked, details={"reason": reason})
        cluster_event.send(sender=Cluster, event="paused", cluster=locked)
    return locked


def cluster_resume(*, actor: Actor, cluster: Cluster, reason: str = "") -> Cluster:
    """Let automation continue: the pods that were waiting are tried again at once."""
    _authorize(actor, "evictions.intervene_evictionrequest")
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if not locked.paused:
            return locked
        locked.paused, locked.paused_reason = False, ""
        locked.save(update_fields=["paused", "paused_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="cluster.resume",
            target=locked,
            cluster=locked,
            details={"reason": (reason or "").strip()},
        )
        # The engine's receiver makes the waiting pods due now rather than at the next tick.
        cluster_event.send(sender=Cluster, event="resumed", cluster=locked)
    return locked
