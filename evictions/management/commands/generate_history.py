"""Fill the database with a year of realistic history, for benchmarks: requests, pods, attempts, approvals, audit.

    python manage.py generate_history --audit 1000000 --requests 100000 --pods 1000000

Several clusters and users; requests in every state (mostly finished, a few running, blocked or waiting for a
person); pod evictions with their attempts (201, 429 with the budget's numbers, 500 for overlapping budgets, 404,
403, timeouts); one drain of --big-request pods; and audit events whose HMAC chain verifies (computed here with
audit.chain, continuing from the current chain head, which is moved to the new end).

On PostgreSQL rows go in with COPY (psycopg's cursor.copy); elsewhere with executemany. Ids are assigned here and the
sequences moved past them. This is a tool for a benchmark database, not for production: it does not go through the
services (no notifications, no tasks), and it adds to whatever is there.
"""

from __future__ import annotations

import json
import random
import time
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from audit.chain import event_hash, hashed_fields
from audit.models import AuditChainHead, AuditEvent
from clusters.models import Cluster, CredentialKind, Credentials
from evictions.models import (
    REQUEST_DONE,
    Approval,
    AttemptKind,
    Decision,
    EvictionAttempt,
    EvictionRequest,
    PodEviction,
    PodStatus,
    RequestKind,
    RequestStatus,
    Schedule,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CLUSTER_NAMES = ["prod-eu-1", "prod-eu-2", "prod-us-1", "staging-eu", "batch-us", "edge-ap-1"]
NAMESPACES = {
    "shop": ["web", "cart", "catalog", "search-api"],
    "payments": ["checkout", "ledger", "fraud-score"],
    "search": ["indexer", "query"],
    "platform": ["ingress-nginx", "cert-manager", "external-dns"],
    "data": ["kafka", "zookeeper", "etl-runner", "postgres-replica"],
    "ml": ["feature-store", "model-serving"],
    "identity": ["auth", "session-store"],
    "observability": ["prometheus", "loki", "tempo"],
}
WORKLOADS = [(namespace, name) for namespace, names in NAMESPACES.items() for name in names]
NODES_PER_CLUSTER = 120
REASONS = [
    "Kernel upgrade (CVE patch)",
    "Node image rotation",
    "Spot instance reclaim notice",
    "Hardware fault: ECC errors",
    "Scale-down of the node pool",
    "Move workload off a noisy node",
    "Kubelet upgrade",
    "Disk pressure on the node",
]
FINISHED_MIX = [  # requests older than a few hours have all finished
    (RequestStatus.SUCCEEDED, 84),
    (RequestStatus.DONE_WITH_EXCEPTIONS, 4),
    (RequestStatus.FAILED, 3),
    (RequestStatus.CANCELLED, 5),
    (RequestStatus.REJECTED, 4),
]
RECENT_MIX = [  # the last few hours: work in every state
    (RequestStatus.RUNNING, 20),
    (RequestStatus.SCHEDULED, 15),
    (RequestStatus.AWAITING_APPROVAL, 15),
    (RequestStatus.PAUSED, 5),
    (RequestStatus.NEEDS_INTERVENTION, 10),
    (RequestStatus.SUCCEEDED, 33),
    (RequestStatus.DONE_WITH_EXCEPTIONS, 2),
]
WITHOUT_PODS = {RequestStatus.AWAITING_APPROVAL, RequestStatus.SCHEDULED, RequestStatus.REJECTED}
SYSTEM_ACTIONS = [("cluster.check", 6), ("request.window_opened", 1), ("request.window_closed", 1)]


_CUMULATIVE: dict[int, tuple[list[Any], list[int]]] = {}


def _weighted(rng: random.Random, mix: list[tuple[Any, int]]) -> Any:
    prepared = _CUMULATIVE.get(id(mix))
    if prepared is None or prepared[0] != [value for value, _ in mix]:
        values, total, cumulative = [value for value, _ in mix], 0, []
        for _, weight in mix:
            total += weight
            cumulative.append(total)
        prepared = _CUMULATIVE[id(mix)] = (values, cumulative)
    return rng.choices(prepared[0], cum_weights=prepared[1])[0]


def _micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class Table:
    """Rows for one model as tuples in column order, every column not given taking the model field's default."""

    def __init__(self, model: type[models.Model], *, with_id: bool) -> None:
        fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
        self.table = model._meta.db_table
        self.columns: list[str] = [str(f.column) for f in fields]
        self.json = {str(f.column) for f in fields if isinstance(f, models.JSONField)}
        self.position = {column: index for index, column in enumerate(self.columns)}
        self.defaults: list[Any] = []
        for f in fields:
            value = f.get_default()
            self.defaults.append(json.dumps(value) if str(f.column) in self.json else value)

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        row = self.defaults.copy()
        position, json_columns = self.position, self.json
        for column, value in values.items():
            row[position[column]] = json.dumps(value) if column in json_columns else value
        return tuple(row)


def insert(table: Table, rows: Iterable[tuple[Any, ...]]) -> int:
    """COPY on PostgreSQL (fast); executemany in batches elsewhere. Returns the number of rows."""
    count = 0
    columns = ", ".join(connection.ops.quote_name(c) for c in table.columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table.table)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        sql = (
            # Table and column names come from the models, never from input.
            f"INSERT INTO {connection.ops.quote_name(table.table)} ({columns}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(table.columns))})"
        )
        adapt = connection.ops.adapt_datetimefield_value
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(adapt(v) if isinstance(v, datetime) else v for v in row))
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


@contextmanager
def secondary_indexes_deferred(*model_list: type[models.Model]) -> Iterator[None]:
    """PostgreSQL: drop the tables' secondary indexes while loading, then build each again in one pass.

    Building an index over a million rows at once is many times faster than updating it a row at a time (the trigram
    GIN indexes above all). Primary keys and unique constraints stay, so duplicates are still refused while loading.
    """
    if connection.vendor != "postgresql":
        yield
        return
    tables = [model._meta.db_table for model in model_list]
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            [tables],
        )
        definitions = cursor.fetchall()
        for name, _ in definitions:
            cursor.execute(f"DROP INDEX {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for _, definition in definitions:
                cursor.execute(definition)


def next_id(model: type[models.Model]) -> int:
    return (model._default_manager.aggregate(m=Max("pk"))["m"] or 0) + 1


def reset_sequences(*model_list: type[models.Model]) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite continues after the largest id by itself
    with connection.cursor() as cursor:
        for model in model_list:
            table, pk = model._meta.db_table, model._meta.pk.column
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE((SELECT MAX({pk}) FROM {table}), 1))",  # noqa: S608
                [table, pk],
            )


@dataclass(slots=True)
class Request:
    """What later stages need to know about a generated request (kept small: there may be 100,000). Times in µs."""

    id: int
    cluster: tuple[int, str]
    kind: str
    status: str
    requester: tuple[int, str]
    approver: tuple[int, str] | None
    created: int
    started: int | None
    finished: int | None
    pods: int = 0
    first_pod: int = 0


class Command(BaseCommand):
    help = "Fill the database with a year of realistic eviction history and a valid audit chain (for benchmarks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=100_000)
        parser.add_argument("--pods", type=int, default=1_000_000)
        parser.add_argument("--audit", type=int, default=1_000_000)
        parser.add_argument("--big-request", type=int, default=1000, help="pods in the one very large drain")
        parser.add_argument("--clusters", type=int, default=len(CLUSTER_NAMES))
        parser.add_argument("--users", type=int, default=40)
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--seed", type=int, default=6)
        parser.add_argument("--no-analyze", action="store_true", help="skip VACUUM ANALYZE (PostgreSQL)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["pods"] and options["big_request"] > options["pods"]:
            raise CommandError("--big-request cannot be larger than --pods")
        self.rng = random.Random(options["seed"])
        self.now = timezone.now().replace(microsecond=0)
        self.since = self.now - timedelta(days=options["days"])
        started = time.monotonic()
        self.stage = started

        self.clusters = self._clusters(options["clusters"])
        self.users = self._users(options["users"])
        self._done("clusters and users")

        loaded = (EvictionRequest, PodEviction, EvictionAttempt, Approval, AuditEvent)
        with secondary_indexes_deferred(*loaded):
            requests = self._requests(options["requests"], options["pods"], options["big_request"])
            self._done(f"{len(requests)} requests")
            pods, attempts = self._pods(requests)
            self._done(f"{pods} pod evictions, {attempts} attempts")
            approvals = self._approvals(requests)
            self._done(f"{approvals} approvals")
            events = self._audit(requests, options["audit"])
            self._done(f"{events} audit events")
        self._done("indexes built")
        reset_sequences(EvictionRequest, PodEviction, EvictionAttempt, Approval, AuditEvent)
        if connection.vendor == "postgresql" and not options["no_analyze"]:
            with connection.cursor() as cursor:
                for model in (EvictionRequest, PodEviction, EvictionAttempt, Approval, AuditEvent, Cluster):
                    cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
            self._done("VACUUM ANALYZE")
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s")

    def _done(self, what: str) -> None:
        now = time.monotonic()
        self.stdout.write(f"{what}: {now - self.stage:.1f} s")
        self.stdout.flush()
        self.stage = now

    # ---- clusters and people ----------------------------------------------------------------------------------------

    def _clusters(self, count: int) -> list[tuple[int, str]]:
        names = CLUSTER_NAMES[:count] + [f"cluster-{index}" for index in range(len(CLUSTER_NAMES), count)]
        result = []
        for index, name in enumerate(names):
            cluster, _ = Cluster.objects.get_or_create(
                name=name,
                defaults={
                    "api_url": f"https://{name}.k8s.example.com:6443",
                    "credential_kind": CredentialKind.TOKEN,
                    "credentials_secret": Credentials(token=f"generated-token-{index}").to_json(),
                    "reachable": index != 4,  # one cluster is down right now
                    "last_error": "" if index != 4 else "connection timed out",
                    "server_version": "v1.30.4",
                    "eviction_api_version": "policy/v1",
                    "last_checked_at": self.now,
                },
            )
            result.append((cluster.pk, cluster.name))
        return result

    def _users(self, count: int) -> list[tuple[int, str]]:
        first = [
            "ana",
            "ben",
            "chen",
            "dara",
            "eli",
            "fatima",
            "gus",
            "hana",
            "ivan",
            "jo",
            "kofi",
            "lena",
            "mo",
            "nia",
        ]
        user_model = get_user_model()
        result = []
        for index in range(count):
            username = f"{first[index % len(first)]}.{index:02d}"
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model(username=username, email=f"{username}@example.com")
                user.set_unusable_password()
                user.save()
            result.append((user.pk, user.get_username()))
        return result

    # ---- requests ---------------------------------------------------------------------------------------------------

    def _requests(self, count: int, pods: int, big: int) -> list[Request]:
        rng, table = self.rng, Table(EvictionRequest, with_id=True)
        first_id = next_id(EvictionRequest)
        span = _micros(self.now - timedelta(minutes=5)) - _micros(self.since)
        times = sorted(_micros(self.since) + rng.randrange(span) for _ in range(count))
        recent = _micros(self.now - timedelta(hours=6))
        requests: list[Request] = []
        for index, created in enumerate(times):
            status = _weighted(rng, RECENT_MIX if created >= recent else FINISHED_MIX)
            requester, approver = rng.sample(self.users, 2) if len(self.users) > 1 else (self.users[0], None)
            if status != RequestStatus.REJECTED and rng.random() < 0.4:
                approver = None  # the cluster's policy needs no approval
            started = None if status in WITHOUT_PODS else created + rng.randrange(5, 3600) * 1_000_000
            finished = None
            if status in {*REQUEST_DONE, RequestStatus.FAILED, RequestStatus.CANCELLED}:
                finished = (started or created) + rng.randrange(20, 1800) * 1_000_000
                finished = min(finished, _micros(self.now))
            elif status == RequestStatus.REJECTED:
                finished = created + rng.randrange(60, 7200) * 1_000_000
            requests.append(
                Request(
                    id=first_id + index,
                    cluster=rng.choice(self.clusters),
                    kind=RequestKind.DRAIN if rng.random() < 0.6 else RequestKind.PODS,
                    status=status,
                    requester=requester,
                    approver=approver if status not in {RequestStatus.AWAITING_APPROVAL} else None,
                    created=created,
                    started=started,
                    finished=finished,
                )
            )
        self._share_pods(requests, pods, big)
        insert(table, (self._request_row(table, request) for request in requests))
        return requests

    def _share_pods(self, requests: list[Request], total: int, big: int) -> None:
        """Spread `total` pods over the requests that started; the one at the middle of the year takes `big`."""
        rng = self.rng
        eligible = [r for r in requests if r.status not in WITHOUT_PODS]
        if not eligible or total <= 0:
            return
        giant = min(
            (r for r in eligible if r.status == RequestStatus.SUCCEEDED) or eligible,
            key=lambda r: abs(r.created - (_micros(self.since) + _micros(self.now)) // 2),
        )
        giant.kind, giant.pods = RequestKind.DRAIN, big
        rest = [r for r in eligible if r is not giant]
        remaining = total - big
        if not rest:
            giant.pods = total
            return
        weights = [rng.randint(4, 30) if r.kind == RequestKind.DRAIN else rng.randint(1, 3) for r in rest]
        scale = remaining / sum(weights)
        for request, weight in zip(rest, weights, strict=True):
            request.pods = int(weight * scale)
        short = remaining - sum(r.pods for r in rest)
        for index in range(short):
            rest[index % len(rest)].pods += 1

    def _request_row(self, table: Table, r: Request) -> tuple[Any, ...]:
        rng = self.rng
        cluster_id, cluster_name = r.cluster
        node = f"{cluster_name}-node-{rng.randrange(NODES_PER_CLUSTER):03d}" if r.kind == RequestKind.DRAIN else ""
        namespace, workload = rng.choice(WORKLOADS)
        targets = [] if node else [{"namespace": namespace, "selector": f"app={workload}"}]
        created = _moment(r.created)
        reason: str = {  # type: ignore[call-overload]
            RequestStatus.FAILED: "Credentials were refused by the API server (401).",
            RequestStatus.NEEDS_INTERVENTION: "1 pod needs a person: blocked past the deadline.",
            RequestStatus.PAUSED: "Paused by an operator while the payments team investigates.",
        }.get(r.status, "")
        approved = r.approver is not None and r.status != RequestStatus.REJECTED
        return table.row(
            {
                "id": r.id,
                "cluster_id": cluster_id,
                "kind": r.kind,
                "status": r.status,
                "status_reason": reason,
                "requester_id": r.requester[0],
                "reason": rng.choice(REASONS),
                "node": node,
                "targets": targets,
                "options": {"ignore_daemonsets": True, "delete_emptydir_data": True} if node else {},
                "deadline_minutes": rng.choice([15, 30, 30, 60, 120]),
                "schedule": Schedule.NOW if rng.random() < 0.8 else Schedule.WINDOW,
                "uncordon_when_done": bool(node) and rng.random() < 0.3,
                "created_at": created,
                "updated_at": _moment(r.finished or r.started or r.created),
                "started_at": _moment(r.started) if r.started else None,
                "pods_created_at": _moment(r.started + 2_000_000) if r.started else None,
                "deadline_at": _moment(r.started + 1_800_000_000) if r.started else None,
                "finished_at": _moment(r.finished) if r.finished else None,
                "approved_at": _moment(r.created + 600_000_000) if approved else None,
            }
        )

    # ---- pods and attempts ------------------------------------------------------------------------------------------

    def _pods(self, requests: list[Request]) -> tuple[int, int]:
        pod_table, attempt_table = Table(PodEviction, with_id=True), Table(EvictionAttempt, with_id=False)
        pod_id = next_id(PodEviction)
        pod_count = attempt_count = 0
        chunk: list[Request] = []
        size = 0
        for request in requests:
            if not request.pods:
                continue
            chunk.append(request)
            size += request.pods
            if size >= 50_000:
                pods, attempts = self._pod_chunk(chunk, pod_id, pod_table, attempt_table)
                pod_id, pod_count, attempt_count = pod_id + pods, pod_count + pods, attempt_count + attempts
                chunk, size = [], 0
        if chunk:
            pods, attempts = self._pod_chunk(chunk, pod_id, pod_table, attempt_table)
            pod_count, attempt_count = pod_count + pods, attempt_count + attempts
        return pod_count, attempt_count

    def _pod_chunk(
        self, chunk: list[Request], first_id: int, pod_table: Table, attempt_table: Table
    ) -> tuple[int, int]:
        pods: list[tuple[Any, ...]] = []
        attempts: list[tuple[Any, ...]] = []
        pod_id = first_id
        for request in chunk:
            request.first_pod = pod_id
            for index in range(request.pods):
                pods.append(self._pod(request, index, pod_id, pod_table, attempts, attempt_table))
                pod_id += 1
        with transaction.atomic():
            insert(pod_table, pods)
            insert(attempt_table, attempts)
        return len(pods), len(attempts)

    def _pod_status(self, status: str) -> str:
        rng = self.rng
        mixes: dict[str, list[tuple[str, int]]] = {
            # A plain success skips only what the drain rules skip; a person's skips and direct deletes make it
            # done with exceptions.
            RequestStatus.SUCCEEDED: [(PodStatus.EVICTED, 95), (PodStatus.SKIPPED, 5)],
            RequestStatus.DONE_WITH_EXCEPTIONS: [
                (PodStatus.EVICTED, 80),
                (PodStatus.DELETED, 12),
                (PodStatus.SKIPPED, 8),
            ],
            RequestStatus.FAILED: [(PodStatus.FAILED, 60), (PodStatus.EVICTED, 40)],
            RequestStatus.CANCELLED: [(PodStatus.CANCELLED, 70), (PodStatus.EVICTED, 30)],
            RequestStatus.RUNNING: [
                (PodStatus.EVICTED, 45),
                (PodStatus.TERMINATING, 10),
                (PodStatus.BLOCKED, 25),
                (PodStatus.PENDING, 15),
                (PodStatus.EVICTING, 5),
            ],
            RequestStatus.NEEDS_INTERVENTION: [
                (PodStatus.EVICTED, 60),
                (PodStatus.BLOCKED, 25),
                (PodStatus.NEEDS_INTERVENTION, 15),
            ],
            RequestStatus.PAUSED: [(PodStatus.EVICTED, 50), (PodStatus.PENDING, 30), (PodStatus.BLOCKED, 20)],
        }
        return _weighted(rng, mixes.get(status, [(PodStatus.EVICTED, 1)]))

    def _pod(
        self,
        request: Request,
        index: int,
        pod_id: int,
        table: Table,
        attempts: list[tuple[Any, ...]],
        attempt_table: Table,
    ) -> tuple[Any, ...]:
        rng = self.rng
        namespace, workload = pod_identity(request.id, index)
        name = pod_name(request.id, index)
        status = self._pod_status(request.status)
        if index == 0 and request.status == RequestStatus.NEEDS_INTERVENTION:
            status = PodStatus.NEEDS_INTERVENTION  # the reason the request needs a person
        if index == 0 and request.status == RequestStatus.DONE_WITH_EXCEPTIONS:
            status = PodStatus.DELETED  # the exception that makes it so
        cluster_name = request.cluster[1]
        node = f"{cluster_name}-node-{(request.id + index // 40) % NODES_PER_CLUSTER:03d}"
        start = (request.started or request.created) + 2_000_000 + index * 1000
        pdb = f"{namespace}/{workload}-pdb"
        grace = rng.choice([30, 30, 30, 10, 60, 120])

        # The answers this pod got, in order: some 429s (a budget allows no disruption yet), then the last answer.
        blocked_rounds = 0 if rng.random() < 0.65 else min(12, int(rng.expovariate(0.35)) + 1)
        answers: list[int | None] = [429] * blocked_rounds
        final: int | None = {
            PodStatus.EVICTED: 201,
            PodStatus.TERMINATING: 201,
            PodStatus.DELETED: 429,
            PodStatus.FAILED: 403,
            PodStatus.NEEDS_INTERVENTION: 500 if rng.random() < 0.4 else 429,
            PodStatus.BLOCKED: 429,
            PodStatus.CANCELLED: 429,
            PodStatus.EVICTING: None,
            PodStatus.PENDING: None,
            PodStatus.SKIPPED: None,
        }[status]  # type: ignore[index]
        if final == 201:
            roll = rng.random()
            final = 404 if roll < 0.01 else 409 if roll < 0.012 else 200 if roll < 0.05 else 201
        if final is not None:
            answers.append(final)
        if answers and rng.random() < 0.01:
            answers.insert(0, None)  # a transport error before the first answer
        at = start
        for answer in answers:
            attempts.append(self._attempt(attempt_table, pod_id, at, answer, pdb, request))
            at += (5 if answer is None else 10 if answer == 429 else 1) * 1_000_000 + rng.randrange(1_000_000)
        forced = status == PodStatus.DELETED
        if forced:
            attempts.append(self._attempt(attempt_table, pod_id, at, 200, pdb, request, kind=AttemptKind.DELETE))

        gone = status in {PodStatus.EVICTED, PodStatus.DELETED}
        seconds = None
        finished = None
        if gone:
            seconds = round((at - start) / 1e6 + rng.uniform(0.5, grace), 3)
            finished = start + int(seconds * 1e6)
        elif status in {PodStatus.FAILED, PodStatus.CANCELLED, PodStatus.SKIPPED}:
            finished = at
        blocked = status in {PodStatus.BLOCKED, PodStatus.NEEDS_INTERVENTION} and final == 429
        needs, has = rng.choice([(3, 2), (5, 4), (2, 1), (10, 9)])
        # In a request done with exceptions, a skipped pod was skipped by a person (its approver, an operator here).
        skipper = request.approver[1] if request.approver else None
        by_person = status == PodStatus.SKIPPED and request.status == RequestStatus.DONE_WITH_EXCEPTIONS and skipper
        note: str = {  # type: ignore[call-overload]
            PodStatus.EVICTED: "Gone.",
            PodStatus.DELETED: "Gone (deleted directly).",
            PodStatus.BLOCKED: f"Blocked by its disruption budget {pdb}.",  # its numbers are the budget_* fields
            PodStatus.NEEDS_INTERVENTION: "Blocked past the deadline: a person must decide."
            if final == 429
            else f"More than one PodDisruptionBudget selects this pod: {pdb}, {namespace}/all-pods.",
            PodStatus.SKIPPED: f"Skipped by {skipper}: its owner restarts it."
            if by_person
            else "Skipped: DaemonSet-managed.",
            PodStatus.FAILED: "Forbidden: the credentials may not evict pods.",
        }.get(status, "")
        waiting = status in {PodStatus.PENDING, PodStatus.BLOCKED}
        return table.row(
            {
                "id": pod_id,
                "request_id": request.id,
                "namespace": namespace,
                "name": name,
                "uid": f"{rng.getrandbits(128):032x}",
                "node": node,
                "status": status,
                "note": note,
                "skipped_by": skipper if by_person else None,
                "attempts": len(answers),
                "next_attempt_at": _moment(_micros(self.now) + rng.randrange(-120, 60) * 1_000_000)
                if waiting
                else None,
                "blocked_since": _moment(start) if blocked else None,
                "blocking_pdb": pdb if blocked else "",
                "budget_needs": needs if blocked else None,
                "budget_has": has if blocked else None,
                "budget_allowed": 0 if blocked else None,
                "budget_seen_at": _moment(at) if blocked else None,
                "last_status_code": answers[-1] if answers else None,
                "eviction_accepted_at": _moment(at) if final in {200, 201} else None,
                "finished_at": _moment(finished) if finished else None,
                "seconds_to_evict": seconds,
                "created_at": _moment(start - 1_000_000),
                "updated_at": _moment(finished or at),
            }
        )

    def _attempt(
        self, table: Table, pod_id: int, at: int, answer: int | None, pdb: str, request: Request, kind: str = "evict"
    ) -> tuple[Any, ...]:
        rng = self.rng
        values: dict[str, Any] = {
            "pod_id": pod_id,
            "kind": kind,
            "at": _moment(at),
            "duration_ms": rng.randrange(8, 120),
            "http_status": answer,
            "actor": "system:worker" if kind == AttemptKind.EVICT else request.requester[1],
        }
        if answer == 429:
            needs = rng.choice([2, 3, 5])
            values.update(
                reason="TooManyRequests",
                message="Cannot evict pod as it would violate the pod's disruption budget.",
                budget=f"{pdb} needs {needs} healthy pods and has {needs - 1}",
                outcome=PodStatus.BLOCKED,
            )
        elif answer in {200, 201}:
            values.update(outcome=PodStatus.TERMINATING if kind == AttemptKind.EVICT else PodStatus.DELETED)
        elif answer == 404:
            values.update(reason="NotFound", message="pods not found", outcome=PodStatus.EVICTED)
        elif answer == 409:
            values.update(reason="Conflict", message="Precondition failed: UID in precondition", outcome="evicted")
        elif answer == 500:
            values.update(
                reason="InternalError",
                message="This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
                "support.",
                outcome=PodStatus.NEEDS_INTERVENTION,
            )
        elif answer == 403:
            values.update(reason="Forbidden", message="pods/eviction is forbidden", outcome=PodStatus.FAILED)
        elif answer is None:
            values.update(transport_error="timeout", message="read timed out", outcome=PodStatus.PENDING)
        return table.row(values)

    # ---- approvals --------------------------------------------------------------------------------------------------

    def _approvals(self, requests: list[Request]) -> int:
        table = Table(Approval, with_id=False)
        rows = []
        for r in requests:
            if r.approver is None:
                continue
            rejected = r.status == RequestStatus.REJECTED
            rows.append(
                table.row(
                    {
                        "request_id": r.id,
                        "requester_id": r.requester[0],
                        "approver_id": r.approver[0],
                        "decision": Decision.REJECT if rejected else Decision.APPROVE,
                        "comment": "Not during the sale, please." if rejected else "",
                        "created_at": _moment(r.created + 600_000_000),
                    }
                )
            )
        with transaction.atomic():
            return insert(table, rows)

    # ---- the audit log ----------------------------------------------------------------------------------------------

    def _audit(self, requests: list[Request], count: int) -> int:
        """Event specs (time, what, which request, which pod) sorted by time, then chained and written in one pass."""
        if count <= 0:
            return 0
        rng = self.rng
        specs: list[tuple[int, int, int, int]] = []  # (micros, kind, request index, pod index)
        for position, r in enumerate(requests):
            specs.append((r.created, 0, position, 0))
            if r.approver is not None:
                specs.append((r.created + 600_000_000, 1, position, 0))
            if r.started:
                specs.append((r.started, 2, position, 0))
            if r.finished:
                specs.append((r.finished, 3, position, 0))
        if len(specs) > count:
            specs = rng.sample(specs, count)
        # The rest: pod events (pod.evicted, pod.blocked, …) of pods that exist, and the system's own events.
        with_pods = [position for position, r in enumerate(requests) if r.pods]
        for _ in range(count - len(specs)):
            if with_pods and rng.random() < 0.9:
                position = rng.choice(with_pods)
                r = requests[position]
                at = (r.started or r.created) + rng.randrange(2_000_000, 1_800_000_000)
                specs.append((at, 4, position, rng.randrange(r.pods)))
            else:
                specs.append((_micros(self.since) + rng.randrange(_micros(self.now) - _micros(self.since)), 5, 0, 0))
        specs.sort()
        created_times = [r.created for r in requests]

        head, _ = AuditChainHead.objects.get_or_create(pk=1)
        sequence, prev = head.last_sequence, head.last_hash
        key = settings.AUDIT_HMAC_KEY
        table = Table(AuditEvent, with_id=False)
        state: dict[str, Any] = {"sequence": sequence, "prev": prev}

        def rows() -> Iterator[tuple[Any, ...]]:
            for micros, kind, position, pod_index in specs:
                state["sequence"] += 1
                values = self._event(kind, requests, position, pod_index, created_times, micros)
                fields = hashed_fields(sequence=state["sequence"], created_at=_moment(micros), **values)
                digest = event_hash(key, fields, state["prev"])
                yield table.row(
                    {
                        **values,
                        "sequence": state["sequence"],
                        "created_at": _moment(micros),
                        "prev_hash": state["prev"],
                        "hash": digest,
                    }
                )
                state["prev"] = digest

        with transaction.atomic():
            written = insert(table, rows())
            AuditChainHead.objects.filter(pk=1).update(last_sequence=state["sequence"], last_hash=state["prev"])
        return written

    def _event(
        self,
        kind: int,
        requests: list[Request],
        position: int,
        pod_index: int,
        created_times: list[int],
        micros: int,
    ) -> dict[str, Any]:
        rng = self.rng
        if kind == 5:  # the system's own events, about a cluster
            cluster_id, cluster_name = rng.choice(self.clusters)
            action = _weighted(rng, SYSTEM_ACTIONS)
            near = requests[min(len(requests) - 1, bisect_left(created_times, micros))] if requests else None
            details: dict[str, Any] = {"reachable": True, "version": "v1.30.4"} if action == "cluster.check" else {}
            if action != "cluster.check" and near is not None:
                details = {"request": near.id}
            return _event_values(
                "system",
                None,
                "system:tick",
                action,
                "clusters.cluster",
                str(cluster_id),
                cluster_id,
                cluster_name,
                details,
            )
        r = requests[position]
        cluster_id, cluster_name = r.cluster
        web_request = f"{rng.getrandbits(64):016x}"
        if kind == 0:
            return _event_values(
                "user",
                r.requester[0],
                r.requester[1],
                "request.create",
                "evictions.evictionrequest",
                str(r.id),
                cluster_id,
                cluster_name,
                {"kind": r.kind, "pods": r.pods, "reason": rng.choice(REASONS)},
                web_request,
            )
        if kind == 1:
            rejected = r.status == RequestStatus.REJECTED
            approver = r.approver or r.requester
            return _event_values(
                "user",
                approver[0],
                approver[1],
                "request.reject" if rejected else "request.approve",
                "evictions.evictionrequest",
                str(r.id),
                cluster_id,
                cluster_name,
                {"comment": "Not during the sale, please." if rejected else ""},
                web_request,
            )
        if kind == 2:
            return _event_values(
                "system",
                None,
                "system:tick",
                "request.start",
                "evictions.evictionrequest",
                str(r.id),
                cluster_id,
                cluster_name,
                {"pods": r.pods},
            )
        if kind == 3:
            return _event_values(
                "system",
                None,
                "system:worker",
                f"request.{r.status}",
                "evictions.evictionrequest",
                str(r.id),
                cluster_id,
                cluster_name,
                {"pods": r.pods},
            )
        namespace, workload = pod_identity(r.id, pod_index)
        key = f"{namespace}/{pod_name(r.id, pod_index)}"
        action = _weighted(
            rng,
            [
                ("pod.evicted", 70),
                ("pod.blocked", 22),
                ("pod.retry", 3),
                ("pod.needs_intervention", 2),
                ("pod.force_delete", 1),
                ("pod.skip", 2),
            ],
        )
        person = action in {"pod.retry", "pod.force_delete", "pod.skip"}
        actor = rng.choice(self.users) if person else (None, "system:worker")
        details = {"pod": key, "request": r.id}
        if action == "pod.evicted":
            details["seconds"] = round(rng.uniform(2, 300), 3)
        elif action == "pod.blocked":
            details["budget"] = f"{namespace}/{workload}-pdb needs 3 healthy pods and has 2"
        elif person:
            details["reason"] = "Replacement never became Ready; checked with the owning team."
        return _event_values(
            "user" if person else "system",
            actor[0],
            actor[1],
            action,
            "evictions.podeviction",
            str(r.first_pod + pod_index),
            cluster_id,
            cluster_name,
            details,
            web_request if person else "-",
        )


def _event_values(
    actor_type: str,
    actor_id: int | None,
    actor_name: str,
    action: str,
    object_type: str,
    object_id: str,
    cluster_id: int | None,
    cluster_name: str,
    details: dict[str, Any],
    request_id: str = "-",
) -> dict[str, Any]:
    return {
        "actor_type": actor_type,
        "actor_id": actor_id,
        "actor_name": actor_name,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "cluster_id": cluster_id,
        "cluster_name": cluster_name,
        "request_id": request_id,
        "details": details,
    }


def pod_identity(request_id: int, index: int) -> tuple[str, str]:
    """The workload a request's pod belongs to: the same answer wherever it is asked, so events name real pods."""
    return WORKLOADS[(request_id * 7 + index // 25) % len(WORKLOADS)]


def pod_name(request_id: int, index: int) -> str:
    _, workload = pod_identity(request_id, index)
    template = (request_id * 2654435761 + index // 25) % 0xFFFFFFFFFF
    return f"{workload}-{template:010x}"[:240] + f"-{(request_id * 31 + index) % 0xFFFFF:05x}"
