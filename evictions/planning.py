"""What a request would do before it does it: kubectl drain's pod filters, a PDB preflight, and server-side dry runs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from clusters import kube
from clusters.kubetypes import Answer, LabelSelector, Pdb, Pod, Requirement
from evictions.outcomes import budget_from

FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
# The eviction REST code lets these through without looking at a budget: they caused their disruption already.
NO_BUDGET_PHASES = frozenset({"Pending", "Succeeded", "Failed"})
DRY_RUN_WORKERS = 8  # matches the per-cluster connection pool in kube.py

# kubectl's messages (k8s.io/kubectl/pkg/drain/filters.go), with our option names instead of its flags.
DAEMONSET_FATAL = "cannot delete DaemonSet-managed Pods (use ignore_daemonsets)"
DAEMONSET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "cannot delete Pods with local storage (use delete_emptydir_data)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "cannot delete Pods that declare no controller (use force)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"
MIRROR_WARNING = "cannot evict a mirror pod"
MULTIPLE_PDBS_WARNING = "more than one PodDisruptionBudget selects these pods, so their evictions will fail with 500"


@dataclass(frozen=True)
class DrainOptions:
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False
    force: bool = False
    grace_period_seconds: int | None = None
    pod_selector: str = ""  # a label selector ("app=web,tier!=db") limiting which pods are drained


@dataclass(frozen=True)
class PodTarget:
    """One target of a "pods" request: a pod by name, or the pods a label selector picks in a namespace."""

    namespace: str
    name: str = ""
    selector: str = ""


class Disposition(StrEnum):
    EVICT = "evict"
    WAIT = "wait"  # already terminating: only waited for
    SKIP = "skip"


@dataclass(frozen=True)
class Classification:
    disposition: Disposition
    reason: str
    error: str = ""  # non-empty: the drain must refuse (kubectl's wording, naming the pod)
    warning: str = ""


@dataclass(frozen=True)
class PdbCheck:
    """The budget side of evicting one pod, as the API server would judge it now."""

    pdbs: tuple[Pdb, ...]  # the budgets that select the pod
    blocked_now: bool  # an eviction now would get a 429 budget answer
    multiple_pdbs: bool  # the eviction API answers 500
    waits_for_budget: bool  # the budget allows this pod alone, but earlier pods of the plan use it up
    words: str


@dataclass(frozen=True)
class PlannedPod:
    pod: Pod
    classification: Classification
    check: PdbCheck | None  # None for SKIP pods
    dry_run: Answer | None = None  # the server-side dry-run eviction, when one was made

    def to_json(self) -> dict[str, Any]:
        pod, check = self.pod, self.check
        return {
            "namespace": pod.namespace,
            "name": pod.name,
            "uid": pod.uid,
            "node": pod.node,
            "phase": pod.phase,
            "ready": pod.ready,
            "termination_grace_seconds": pod.termination_grace_seconds,
            "disposition": str(self.classification.disposition),
            "reason": self.classification.reason,
            "warning": self.classification.warning,
            "error": self.classification.error,
            "pdbs": [_pdb_json(pdb) for pdb in check.pdbs] if check else [],
            "blocked_now": bool(check and check.blocked_now),
            "multiple_pdbs": bool(check and check.multiple_pdbs),
            "waits_for_budget": bool(check and check.waits_for_budget),
            "words": check.words if check else "",
            "dry_run": _answer_json(self.dry_run) if self.dry_run else None,
        }


@dataclass(frozen=True)
class Plan:
    kind: str  # "drain" or "pods"
    node: str
    pods: tuple[PlannedPod, ...]
    errors: tuple[str, ...]  # non-empty: the request must not be submitted as is
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def to_evict(self) -> tuple[PlannedPod, ...]:
        """The pods that get a PodEviction row: those to evict and those already terminating."""
        return tuple(p for p in self.pods if p.classification.disposition in (Disposition.EVICT, Disposition.WAIT))

    def to_json(self) -> dict[str, Any]:
        counts = {str(d): 0 for d in Disposition}
        for planned in self.pods:
            counts[str(planned.classification.disposition)] += 1
        return {
            "kind": self.kind,
            "node": self.node,
            "ok": self.ok,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "counts": counts,
            "pods": [planned.to_json() for planned in self.pods],
        }


def _pdb_json(pdb: Pdb) -> dict[str, Any]:
    return {
        "name": pdb.key,
        "disruptions_allowed": pdb.disruptions_allowed,
        "current_healthy": pdb.current_healthy,
        "desired_healthy": pdb.desired_healthy,
        "expected_pods": pdb.expected_pods,
    }


def _answer_json(answer: Answer) -> dict[str, Any]:
    return {"status": answer.status, "message": answer.message, "budget": budget_words(answer)}


def budget_words(answer: Answer) -> str:
    """The budget an answer names, in words ("web-pdb needs 2 healthy pods and has 1"), or ""."""
    cause = next((c.message for c in answer.causes if c.reason == "DisruptionBudget"), "")
    budget = budget_from(answer)
    # "Still being processed" causes carry no numbers; their own sentence says more than a 0-and-0 budget.
    return budget.words() if budget and " needs " in cause else cause


# ---- label selectors ----------------------------------------------------------------------------------------------

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")
_SET_TERM = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")


def _key(text: str) -> str:
    key = text.strip()
    prefix, _, _ = key.rpartition("/")
    if not _KEY.match(key) or len(prefix) > 253:
        raise ValueError(f"{key!r} is not a valid label key")
    return key


def _value(text: str) -> str:
    value = text.strip()
    if not _VALUE.match(value):
        raise ValueError(f"{value!r} is not a valid label value")
    return value


def _terms(text: str) -> Iterable[str]:
    # Commas separate terms except inside the parentheses of "in (a,b)".
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("unbalanced parentheses")
        elif char == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    if depth:
        raise ValueError("unbalanced parentheses")
    yield text[start:]


def parse_selector(text: str) -> LabelSelector:
    """A label selector in kubectl's syntax (a=b, a==b, a!=b, a, !a, a in (x,y), a notin (x)); raises ValueError.

    Parsed here rather than only handed to the server so that a bad selector is refused when the request is made,
    and so that the engine can apply the same selector to pods it lists later.
    """
    labels: list[tuple[str, str]] = []
    expressions: list[Requirement] = []
    if not text.strip():
        return LabelSelector()
    for raw in _terms(text):
        term = raw.strip()
        if not term:
            raise ValueError("empty term")
        if match := _SET_TERM.match(term):
            values = tuple(_value(v) for v in match["values"].split(","))
            operator = "In" if match["op"] == "in" else "NotIn"
            expressions.append(Requirement(_key(match["key"]), operator, values))
        elif "!=" in term:
            key, value = term.split("!=", 1)
            # Kubernetes: "a!=b" also selects pods without the label a, which NotIn does too.
            expressions.append(Requirement(_key(key), "NotIn", (_value(value),)))
        elif "=" in term:
            key, value = term.split("==", 1) if "==" in term else term.split("=", 1)
            labels.append((_key(key), _value(value)))
        elif term.startswith("!"):
            expressions.append(Requirement(_key(term[1:]), "DoesNotExist"))
        else:
            expressions.append(Requirement(_key(term), "Exists"))
    return LabelSelector(tuple(labels), tuple(expressions))


# ---- the pure part: kubectl drain's filters and the budget preflight ---------------------------------------------


def classify(pod: Pod, options: DrainOptions) -> Classification:
    """What `kubectl drain` does with this pod under these options (its filters, in its order)."""
    finished = pod.phase in FINISHED_PHASES
    controller = pod.controller
    # kubectl never deletes a DaemonSet's or the kubelet's pod, terminating or not, so these two come first.
    if controller is not None and controller.kind == "DaemonSet" and not finished:
        if not options.ignore_daemonsets:
            return Classification(
                Disposition.SKIP,
                "DaemonSet-managed: the drain refuses without ignore_daemonsets",
                error=f"{DAEMONSET_FATAL}: {pod.key}",
            )
        return Classification(
            Disposition.SKIP, "DaemonSet-managed: skipped (ignore_daemonsets)", warning=DAEMONSET_WARNING
        )
    if pod.mirror:
        return Classification(Disposition.SKIP, "mirror pod: managed by the kubelet")
    # A terminating pod is already going: there is nothing to delete, so neither local storage nor a missing
    # controller needs an option (kubectl would still ask for them unless --skip-wait-for-delete-timeout).
    if pod.deleting:
        return Classification(Disposition.WAIT, "already terminating: waited for, not evicted again")

    warnings: list[str] = []
    reasons: list[str] = []
    if pod.uses_emptydir and not finished:
        if not options.delete_emptydir_data:
            return Classification(
                Disposition.SKIP,
                "emptyDir volume: the drain refuses without delete_emptydir_data",
                error=f"{LOCAL_STORAGE_FATAL}: {pod.key}",
            )
        warnings.append(LOCAL_STORAGE_WARNING)
        reasons.append("its emptyDir data is lost (delete_emptydir_data)")
    if controller is None and not finished:
        if not options.force:
            return Classification(
                Disposition.SKIP,
                "no controller: the drain refuses without force",
                error=f"{UNMANAGED_FATAL}: {pod.key}",
            )
        warnings.append(UNMANAGED_WARNING)
        reasons.append("nothing will replace it (force)")

    if finished:
        reason = f"{pod.phase}: finished, removed without a budget check"
    elif controller is not None:
        reason = f"managed by {controller.kind} {controller.name}"
    else:
        reason = "no controller"
    return Classification(Disposition.EVICT, "; ".join([reason, *reasons]), warning="; ".join(warnings))


def classify_requested(pod: Pod) -> Classification:
    """A pod someone named (a "pods" request): no drain filters, only what the eviction API cannot do."""
    if pod.deleting:
        return Classification(Disposition.WAIT, "already terminating: waited for, not evicted again")
    if pod.mirror:
        # Deleting a static pod's mirror only makes the kubelet recreate it.
        return Classification(Disposition.SKIP, f"{MIRROR_WARNING}: the kubelet recreates it", warning=MIRROR_WARNING)
    return Classification(Disposition.EVICT, "requested")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _numbers(pdb: Pdb, *, expected: bool = True) -> str:
    words = f"healthy {pdb.current_healthy}, desired {pdb.desired_healthy}"
    return f"{words}, expected {pdb.expected_pods}" if expected else words


def _single_check(pod: Pod, pdbs: Sequence[Pdb]) -> tuple[PdbCheck, Pdb | None]:
    """The API server's eviction decision for one pod on its own; also the budget it would use, if any."""
    selecting = tuple(pdb for pdb in pdbs if pdb.selects(pod))

    def check(words: str, *, blocked: bool = False, multiple: bool = False) -> PdbCheck:
        return PdbCheck(selecting, blocked, multiple, False, words)

    # The same order as the eviction REST code (and kubesim): phase and deletion first, then the budgets.
    if pod.deleting:
        return check("already terminating: no budget check"), None
    if pod.phase in NO_BUDGET_PHASES:
        return check(f"{pod.phase}: no budget check"), None
    if len(selecting) > 1:
        names = ", ".join(pdb.key for pdb in selecting)
        words = f"more than one PodDisruptionBudget selects this pod ({names}): the eviction will fail with 500"
        return check(words, multiple=True), None
    if not selecting:
        return check("no PodDisruptionBudget: always evictable"), None
    pdb = selecting[0]
    if not pod.ready:
        # An unready pod is not counted as healthy, so evicting it may use no budget at all.
        if pdb.unhealthy_pod_eviction_policy == "AlwaysAllow":
            return check(f"not Ready, and {pdb.key} always allows evicting unready pods (AlwaysAllow)"), None
        if pdb.current_healthy >= pdb.desired_healthy > 0:
            return check(f"not Ready, and {pdb.key} has enough healthy pods ({_numbers(pdb)})"), None
    if not pdb.processed:
        words = (
            f"blocked now: {pdb.key} is not processed yet by the disruption controller "
            f"(generation {pdb.generation}, observed {pdb.observed_generation}): still being processed"
        )
        return check(words, blocked=True), None
    if pdb.disruptions_allowed <= 0:
        allowed = _plural(pdb.disruptions_allowed, "disruption")
        return check(f"blocked now: {pdb.key} allows {allowed} ({_numbers(pdb, expected=False)})", blocked=True), None
    allowed = _plural(pdb.disruptions_allowed, "disruption")
    return check(f"{pdb.key} allows {allowed} ({_numbers(pdb)})"), pdb


def preflight(pods: Sequence[Pod], pdbs: Sequence[Pdb]) -> dict[str, PdbCheck]:
    """The budget check of every pod, keyed by pod.key, including budgets that pods of the same plan share.

    Evictions run in parallel, so pods sharing a budget that allows fewer disruptions than they need will wait
    for replacements to become Ready; walking the pods in order says which ones.
    """
    singles: dict[str, tuple[PdbCheck, Pdb | None]] = {}
    for pod in pods:
        singles.setdefault(pod.key, _single_check(pod, pdbs))
    need: dict[str, int] = {}
    for _, used in singles.values():
        if used is not None:
            need[used.key] = need.get(used.key, 0) + 1

    checks: dict[str, PdbCheck] = {}
    taken: dict[str, int] = {}
    for key, (single, used) in singles.items():
        if used is None:
            checks[key] = single
            continue
        taken[used.key] = taken.get(used.key, 0) + 1
        if taken[used.key] <= used.disruptions_allowed:
            checks[key] = single
            continue
        words = (
            f"will wait: {used.key} allows {_plural(used.disruptions_allowed, 'disruption')} and "
            f"{need[used.key]} pods of this plan need it"
        )
        checks[key] = PdbCheck(single.pdbs, False, False, True, words)
    return checks


def dry_run_disagreement(check: PdbCheck, answer: Answer) -> str:
    """Words when a dry-run answer does not match the preflight ("" when it does, or when it says nothing)."""
    status = answer.status
    if status is None:
        return f"the dry run got no answer ({answer.transport_error or 'connection failed'}): {answer.message}"
    if status in (200, 201):
        expected_ok = not check.blocked_now and not check.multiple_pdbs
        return (
            "" if expected_ok else f"the dry run was allowed (HTTP {status}) although the preflight says: {check.words}"
        )
    if status == 429 and budget_from(answer) is not None:
        return "" if check.blocked_now else f"the dry run was blocked by a budget (HTTP 429: {budget_words(answer)})"
    if status == 500 and "more than one" in answer.message.lower():
        return "" if check.multiple_pdbs else f"the dry run found several budgets (HTTP 500: {answer.message})"
    return f"the dry run answered HTTP {status}: {answer.message or answer.reason or 'no message'}"


def _grouped(pairs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """kubectl's summary lines: one per message, naming its pods ("message: ns/a, ns/b"), in first-seen order."""
    groups: dict[str, list[str]] = {}
    for message, key in pairs:
        groups.setdefault(message, []).append(key)
    return tuple(f"{message}: {', '.join(keys)}" for message, keys in groups.items())


def assemble(
    kind: str,
    node: str,
    pods: Sequence[Pod],
    classifications: dict[str, Classification],
    pdbs: Sequence[Pdb],
    *,
    dry_runs: dict[str, Answer] | None = None,
    errors: Sequence[str] = (),
) -> Plan:
    """Put classified pods, their preflight and dry runs together into a Plan, summarising errors and warnings."""
    dry_runs = dry_runs or {}
    budgeted = [pod for pod in pods if classifications[pod.key].disposition is not Disposition.SKIP]
    checks = preflight(budgeted, pdbs)
    planned = tuple(
        PlannedPod(pod, classifications[pod.key], checks.get(pod.key), dry_runs.get(pod.key)) for pod in pods
    )

    error_pairs: list[tuple[str, str]] = []
    warning_pairs: list[tuple[str, str]] = []
    for item in planned:
        key, classification = item.pod.key, item.classification
        if classification.error:
            message, _, _ = classification.error.rpartition(": ")
            error_pairs.append((message or classification.error, key))
        for warning in filter(None, classification.warning.split("; ")):
            warning_pairs.append((warning, key))
        if item.check and item.check.multiple_pdbs:
            warning_pairs.append((MULTIPLE_PDBS_WARNING, key))
        if item.check and item.dry_run:
            disagreement = dry_run_disagreement(item.check, item.dry_run)
            if disagreement:
                warning_pairs.append((disagreement, key))
    return Plan(kind, node, planned, (*errors, *_grouped(error_pairs)), _grouped(warning_pairs))


# ---- reading the cluster -------------------------------------------------------------------------------------------


def pdb_api_version(eviction_api_version: str) -> str:
    # Clusters that evict with policy/v1beta1 (before 1.22) do not serve policy/v1 budgets.
    return "policy/v1beta1" if eviction_api_version == "policy/v1beta1" else "policy/v1"


def _dry_runs(
    endpoint: kube.Endpoint,
    pods: Sequence[Pod],
    *,
    eviction_api_version: str,
    grace_period_seconds: int | None,
) -> dict[str, Answer]:
    """A server-side dry-run eviction of each pod (the API server's full budget check, nothing changed)."""

    def one(pod: Pod) -> Answer:
        return kube.evict(
            endpoint,
            namespace=pod.namespace,
            name=pod.name,
            uid=pod.uid,
            api_version=eviction_api_version,
            grace_period_seconds=grace_period_seconds,
            dry_run=True,
        )

    if not pods:
        return {}
    # In parallel, as the evictions themselves will run; each call is independent and changes nothing.
    with ThreadPoolExecutor(max_workers=min(DRY_RUN_WORKERS, len(pods)), thread_name_prefix="dry-run") as pool:
        return {pod.key: answer for pod, answer in zip(pods, pool.map(one, pods), strict=True)}


def plan_drain(
    endpoint: kube.Endpoint,
    *,
    node: str,
    options: DrainOptions,
    eviction_api_version: str,
    dry_run_evictions: bool = True,
) -> Plan:
    """The drain of `node` as kubectl would do it, with each pod's budget outlook. Raises KubeError if unreadable.

    A cluster that cannot be read is not a refusal of the request (a later try may work), hence the exception
    rather than a Plan error.
    """
    try:
        selector = parse_selector(options.pod_selector)
    except ValueError as error:
        return Plan("drain", node, (), (f"invalid pod selector {options.pod_selector!r}: {error}",), ())
    if kube.get_node(endpoint, node) is None:
        return Plan("drain", node, (), (f"node {node} not found",), ())

    # The API server lists in key order; sorting keeps plans stable whatever the server does.
    pods = sorted(
        (pod for pod in kube.list_pods(endpoint, node=node) if selector.matches(pod.labels)), key=lambda p: p.key
    )
    classifications = {pod.key: classify(pod, options) for pod in pods}
    needs_budgets = any(c.disposition is not Disposition.SKIP for c in classifications.values())
    pdbs = kube.list_pdbs(endpoint, api_version=pdb_api_version(eviction_api_version)) if needs_budgets else []
    dry_runs: dict[str, Answer] = {}
    if dry_run_evictions:
        to_try = [pod for pod in pods if classifications[pod.key].disposition is Disposition.EVICT]
        dry_runs = _dry_runs(
            endpoint,
            to_try,
            eviction_api_version=eviction_api_version,
            grace_period_seconds=options.grace_period_seconds,
        )
    return assemble("drain", node, pods, classifications, pdbs, dry_runs=dry_runs)


def _resolve(endpoint: kube.Endpoint, target: PodTarget) -> tuple[list[Pod], str]:
    """The pods a target names, or an error in words."""
    if not target.namespace:
        return [], "a pod target needs a namespace"
    if bool(target.name) == bool(target.selector):
        return [], f"a pod target in {target.namespace} needs either a name or a selector"
    if target.name:
        pod = kube.get_pod(endpoint, target.namespace, target.name)
        return ([pod], "") if pod else ([], f"pod {target.namespace}/{target.name} not found")
    try:
        parse_selector(target.selector)
    except ValueError as error:
        return [], f"invalid selector {target.selector!r} in {target.namespace}: {error}"
    pods = kube.list_pods(endpoint, namespace=target.namespace, label_selector=target.selector)
    return pods, "" if pods else f"no pods in {target.namespace} match {target.selector}"


def plan_pods(
    endpoint: kube.Endpoint,
    *,
    targets: Sequence[PodTarget],
    eviction_api_version: str,
    dry_run_evictions: bool = True,
) -> Plan:
    """The eviction of the pods these targets name, with each pod's budget outlook. Raises KubeError if unreadable."""
    errors: list[str] = [] if targets else ["no pods named"]
    pods: dict[str, Pod] = {}
    for target in targets:
        found, error = _resolve(endpoint, target)
        if error:
            errors.append(error)
        for pod in found:
            pods.setdefault(pod.key, pod)  # a pod named twice (by name and by selector) is evicted once
    ordered = sorted(pods.values(), key=lambda p: p.key)
    classifications = {pod.key: classify_requested(pod) for pod in ordered}
    if ordered and not errors and not any(c.disposition is not Disposition.SKIP for c in classifications.values()):
        errors.append("nothing to evict")

    # Budgets are namespaced: reading only the targets' namespaces needs no cluster-wide permission.
    pdbs: list[Pdb] = []
    version = pdb_api_version(eviction_api_version)
    for namespace in sorted({pod.namespace for pod in ordered}):
        pdbs.extend(kube.list_pdbs(endpoint, namespace=namespace, api_version=version))
    dry_runs: dict[str, Answer] = {}
    if dry_run_evictions:
        to_try = [pod for pod in ordered if classifications[pod.key].disposition is Disposition.EVICT]
        dry_runs = _dry_runs(endpoint, to_try, eviction_api_version=eviction_api_version, grace_period_seconds=None)
    return assemble("pods", "", ordered, classifications, pdbs, dry_runs=dry_runs, errors=errors)
