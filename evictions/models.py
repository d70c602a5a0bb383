"""Eviction requests, their pods and attempts; approvals, approval policies and maintenance windows."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from clusters.models import Cluster
from evictions.outcomes import budget_words


class RequestKind(models.TextChoices):
    PODS = "pods", "Pods"
    DRAIN = "drain", "Node drain"


class RequestStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    SUCCEEDED = "succeeded", "Succeeded"
    # Every pod is done, but a person skipped some or deleted some directly (bypassing the budget): not a plain
    # success, and an API client filtering by status must be able to tell.
    DONE_WITH_EXCEPTIONS = "done_with_exceptions", "Done with exceptions"
    FAILED = "failed", "Failed"
    NEEDS_INTERVENTION = "needs_intervention", "Needs intervention"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"


# Requests whose pods are being worked on: their pods may be claimed, attempted, followed and watched.
REQUEST_RUNNING = (RequestStatus.RUNNING, RequestStatus.NEEDS_INTERVENTION)
REQUEST_FINISHED = {
    RequestStatus.SUCCEEDED,
    RequestStatus.DONE_WITH_EXCEPTIONS,
    RequestStatus.FAILED,
    RequestStatus.CANCELLED,
    RequestStatus.REJECTED,
}
# Finished with every pod done (uncordon_when_done applies): plainly, or after a person stepped in.
REQUEST_DONE = {RequestStatus.SUCCEEDED, RequestStatus.DONE_WITH_EXCEPTIONS}
REQUEST_COLOURS = {
    "awaiting_approval": "grey",
    "scheduled": "blue",
    "running": "blue",
    "paused": "amber",
    "succeeded": "green",
    "done_with_exceptions": "amber",
    "failed": "red",
    "needs_intervention": "red",
    "cancelled": "grey",
    "rejected": "grey",
}


class Schedule(models.TextChoices):
    NOW = "now", "As soon as approved"
    NOT_BEFORE = "not_before", "Not before a given time"
    WINDOW = "window", "In the next maintenance window"


class PauseKind(models.TextChoices):
    NONE = "", "Not paused"
    PERSON = "person", "Paused by a person"
    WINDOW = "window", "Window closed"


class PodStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    EVICTING = "evicting", "Evicting"
    BLOCKED = "blocked", "Blocked"
    TERMINATING = "terminating", "Terminating"
    EVICTED = "evicted", "Evicted"
    DELETED = "deleted", "Deleted (forced)"
    SKIPPED = "skipped", "Skipped"
    NEEDS_INTERVENTION = "needs_intervention", "Needs intervention"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


POD_FINISHED = {PodStatus.EVICTED, PodStatus.DELETED, PodStatus.SKIPPED, PodStatus.FAILED, PodStatus.CANCELLED}
POD_WAITING_TO_TRY = {PodStatus.PENDING, PodStatus.BLOCKED}
# A pod a person took out of the eviction: deleted directly (bypassing its budget), or skipped by someone. Pods the
# drain rules leave alone (DaemonSet and mirror pods, skipped at plan time) have no skipped_by and are not exceptions.
POD_SKIPPED_BY_PERSON = Q(status=PodStatus.SKIPPED, skipped_by__isnull=False)
POD_DELETED = Q(status=PodStatus.DELETED)
# The columns of the one budget holding a pod back, as last read (PodEviction.budget_words says them): a read that
# shows the sentence loads these.
POD_BUDGET_FIELDS = (
    "blocking_pdb",
    "budget_needs",
    "budget_has",
    "budget_allowed",
    "budget_expected",
    "budget_seen_at",
)


@dataclass(frozen=True)
class Exceptions:
    """How a request's pods left the normal path: skipped by a person, or deleted directly."""

    skipped: int = 0
    deleted: int = 0

    def __bool__(self) -> bool:
        return bool(self.skipped or self.deleted)

    def words(self) -> str:
        """'2 skipped, 1 deleted directly' (the parts that are not zero; '' for none)."""
        parts = []
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.deleted:
            parts.append(f"{self.deleted} deleted directly")
        return ", ".join(parts)

    def as_json(self) -> dict[str, int]:
        return {"skipped": self.skipped, "deleted": self.deleted}


POD_COLOURS = {
    "pending": "grey",
    "evicting": "blue",
    "blocked": "amber",
    "terminating": "blue",
    "evicted": "green",
    "deleted": "green",
    "skipped": "grey",
    "needs_intervention": "red",
    "failed": "red",
    "cancelled": "grey",
}


class EvictionRequest(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="requests")
    kind = models.CharField(max_length=8, choices=RequestKind.choices)
    status = models.CharField(max_length=24, choices=RequestStatus.choices, default=RequestStatus.SCHEDULED)
    status_reason = models.CharField(max_length=2000, blank=True)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=2000)
    node = models.CharField(max_length=253, blank=True)
    targets = models.JSONField(default=list, blank=True)  # [{"namespace", "name"} | {"namespace", "selector"}]
    options = models.JSONField(default=dict, blank=True)  # drain options (ignore_daemonsets, force, …)
    grace_period_seconds = models.IntegerField(null=True, blank=True)
    deadline_minutes = models.PositiveIntegerField(default=30)
    not_before = models.DateTimeField(null=True, blank=True)
    schedule = models.CharField(max_length=16, choices=Schedule.choices, default=Schedule.NOW)
    uncordon_when_done = models.BooleanField(default=False)
    plan = models.JSONField(default=dict, blank=True)  # the plan shown at submission, kept as evidence

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    pods_created_at = models.DateTimeField(null=True, blank=True)  # start finished: the pod rows exist
    deadline_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)  # the approval that let it be scheduled
    # The next time a waiting request is worth checking again (its window opens); null: every tick.
    start_after = models.DateTimeField(null=True, blank=True)
    # A request running in a maintenance window starts no new pod eviction after this moment.
    window_ends_at = models.DateTimeField(null=True, blank=True)
    pause_kind = models.CharField(max_length=8, choices=PauseKind.choices, default=PauseKind.NONE, blank=True)
    # Leases: at most one worker follows terminating pods, and one watches budgets, per request.
    follower_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["cluster", "created_at"]),
            models.Index(fields=["requester", "created_at"]),
            # History: newest/oldest first, keyset-paginated on (created_at, id).
            models.Index(fields=["created_at", "id"], name="request_created_id"),
            # The dashboard's recent completions: the last to finish, newest first.
            models.Index(
                fields=["finished_at", "id"], condition=Q(finished_at__isnull=False), name="request_finished_at"
            ),
        ]
        permissions = [
            ("approve_evictionrequest", "Can approve or reject other people's eviction requests"),
            ("intervene_evictionrequest", "Can pause, resume, retry, skip and cancel evictions"),
            ("force_delete_podeviction", "Can delete a pod directly, bypassing its disruption budget"),
        ]

    def __str__(self) -> str:
        what = f"drain {self.node}" if self.kind == RequestKind.DRAIN else f"{len(self.targets)} pod target(s)"
        return f"#{self.pk} {what} on {self.cluster_id}"

    @property
    def finished(self) -> bool:
        return self.status in REQUEST_FINISHED


class PodEviction(models.Model):
    request = models.ForeignKey(EvictionRequest, on_delete=models.CASCADE, related_name="pods")
    namespace = models.CharField(max_length=253)
    name = models.CharField(max_length=253)
    uid = models.CharField(max_length=64)
    node = models.CharField(max_length=253, blank=True)
    status = models.CharField(max_length=24, choices=PodStatus.choices, default=PodStatus.PENDING)
    note = models.CharField(max_length=2000, blank=True)  # the current state in words
    attempts = models.PositiveIntegerField(default=0)
    transient_failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)  # a worker owns the pod until then
    blocked_since = models.DateTimeField(null=True, blank=True)
    blocking_pdb = models.CharField(max_length=300, blank=True)
    # The one budget that covers the pod, from its plan ("namespace/name"; "" for none or several): what another
    # request starting on the cluster checks before it sends a pod of the same budget at once.
    budget = models.CharField(max_length=300, blank=True)
    # Who skipped the pod (a username, or "system:…"); null for a pod never skipped, or skipped by the drain rules.
    skipped_by = models.CharField(max_length=150, null=True, blank=True)
    # The blocking budget's numbers, one set from one source: its desiredHealthy, currentHealthy, disruptionsAllowed
    # and expectedPods as the budget watcher last read them (or as the last 429 gave them: needs and has, allowing
    # none), and when. Said in words by budget_words.
    budget_needs = models.IntegerField(null=True, blank=True)
    budget_has = models.IntegerField(null=True, blank=True)
    budget_allowed = models.IntegerField(null=True, blank=True)
    budget_expected = models.IntegerField(null=True, blank=True)
    budget_seen_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.IntegerField(null=True, blank=True)
    grace_period_seconds = models.IntegerField(null=True, blank=True)
    eviction_accepted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A direct delete asked for on a cluster whose policy wants it approved first.
    delete_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    delete_requested_at = models.DateTimeField(null=True, blank=True)
    delete_reason = models.CharField(max_length=2000, blank=True)
    delete_grace_seconds = models.IntegerField(null=True, blank=True)
    seconds_to_evict = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["request", "namespace", "name", "uid"], name="one_row_per_pod_per_request")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["request", "status"]),
            models.Index(fields=["blocking_pdb"], condition=Q(status="blocked"), name="blocked_by_pdb"),
            # History: the keyset sort orders, and the main filters each with the sort key.
            models.Index(fields=["created_at", "id"], name="pod_created_id"),
            models.Index(
                fields=["seconds_to_evict", "id"], condition=Q(seconds_to_evict__isnull=False), name="pod_time_to_evict"
            ),
            models.Index(fields=["namespace", "created_at"], name="pod_namespace_created"),
            models.Index(fields=["node", "created_at"], name="pod_node_created"),
            models.Index(fields=["status", "created_at"], name="pod_status_created"),
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def finished(self) -> bool:
        return self.status in POD_FINISHED

    @property
    def budget_words(self) -> str:
        """The blocking budget's numbers in words, with when they were read ("" when no budget holds the pod)."""
        if not self.blocking_pdb:
            return ""
        return budget_words(
            self.blocking_pdb,
            needs=self.budget_needs,
            has=self.budget_has,
            allowed=self.budget_allowed,
            expected=self.budget_expected,
            at=self.budget_seen_at,
        )


class AttemptKind(models.TextChoices):
    EVICT = "evict", "Eviction"
    DELETE = "delete", "Direct delete"


class EvictionAttempt(models.Model):
    pod = models.ForeignKey(PodEviction, on_delete=models.CASCADE, related_name="attempt_log")
    kind = models.CharField(max_length=8, choices=AttemptKind.choices, default=AttemptKind.EVICT)
    at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    http_status = models.IntegerField(null=True, blank=True)  # null: no answer (transport error)
    reason = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=2000, blank=True)
    budget = models.CharField(max_length=300, blank=True)  # the blocking PDB's cause, in words
    retry_after = models.FloatField(null=True, blank=True)
    transport_error = models.CharField(max_length=32, blank=True)
    outcome = models.CharField(max_length=24, blank=True)  # the state it led to
    actor = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["pod", "at"]),
            models.Index(fields=["http_status", "at"]),
            # History: "pods that got answer N" probes (pod, http_status) once per candidate pod.
            models.Index(fields=["pod", "http_status"], name="attempt_pod_answer"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.http_status} at {self.at:%H:%M:%S}"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"


class Approval(models.Model):
    """One person's vote on a request, or (with pod set) on deleting one of its pods directly."""

    request = models.ForeignKey(EvictionRequest, on_delete=models.CASCADE, related_name="approvals")
    pod = models.ForeignKey(
        PodEviction, null=True, blank=True, on_delete=models.CASCADE, related_name="delete_approvals"
    )
    # Whose ask this vote is on, copied so that the database itself refuses a self-approval.
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approvals_given")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(approver=F("requester")), name="approver_is_not_requester"),
            models.UniqueConstraint(
                fields=["request", "approver"], condition=Q(pod__isnull=True), name="one_vote_per_person_per_request"
            ),
            models.UniqueConstraint(
                fields=["pod", "approver"], condition=Q(pod__isnull=False), name="one_vote_per_person_per_delete"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.approver_id} on #{self.request_id}"


# A week: a request approved today for next week's window still holds when the window opens.
DEFAULT_APPROVAL_VALID_MINUTES = 7 * 24 * 60


class ApprovalPolicy(models.Model):
    """Who must agree before the engine acts on a cluster; the row without a cluster is the default."""

    cluster = models.OneToOneField(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="approval_policy"
    )
    required_approvals = models.PositiveSmallIntegerField(default=0)  # 0: automatic
    approver_groups = models.ManyToManyField(Group, blank=True, related_name="+")
    approver_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    delete_needs_approval = models.BooleanField(default=False)
    approval_valid_minutes = models.PositiveIntegerField(default=DEFAULT_APPROVAL_VALID_MINUTES)
    windows_only = models.BooleanField(default=False)  # every request on the cluster waits for a window
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(Coalesce("cluster", 0), name="one_policy_per_cluster_and_one_default")]

    def __str__(self) -> str:
        return f"policy for {self.cluster_id or 'all clusters'}"


class WindowKind(models.TextChoices):
    RECURRING = "recurring", "Recurring"
    ONE_OFF = "one_off", "One-off"


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class MaintenanceWindow(models.Model):
    """When the engine may act on a cluster: weekly in a time zone, or once between two moments."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="windows")
    label = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=12, choices=WindowKind.choices)
    weekdays = models.JSONField(default=list, blank=True)  # 0 = Monday … 6 = Sunday; the day the window opens
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)  # at or before start_time: ends the next day
    timezone = models.CharField(max_length=64, default="UTC")
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster", "id"]

    def __str__(self) -> str:
        if self.kind == WindowKind.ONE_OFF:
            return f"{self.starts_at:%Y-%m-%d %H:%M} - {self.ends_at:%Y-%m-%d %H:%M} UTC"
        days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(self.weekdays))
        return f"{days} {self.start_time:%H:%M}-{self.end_time:%H:%M} {self.timezone}"
