"""The eviction subresource's decision, following the upstream API server's eviction REST code."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubesim import objects as o
from kubesim.state import PodSim, Store, monotonic

Obj = dict[str, Any]

MULTIPLE_PDBS = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
BUDGET_VIOLATED = "Cannot evict pod as it would violate the pod's disruption budget."


@dataclass
class Answer:
    code: int
    body: Obj
    headers: dict[str, str] = field(default_factory=dict)


def _fail(body: Obj) -> Answer:
    return Answer(body["code"], body)


def _parse_eviction(store: Store, raw: bytes) -> tuple[Obj | None, Answer | None]:
    try:
        body = json.loads(raw.decode("utf-8") if raw else "")
    except (ValueError, UnicodeDecodeError) as exc:
        return None, _fail(o.bad_request(f"couldn't get version/kind; json parse error: {exc}"))
    if not isinstance(body, dict):
        return None, _fail(
            o.bad_request(
                "couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{type(body).__name__} into Go value of type struct"
            )
        )
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if not kind:
        return None, _fail(o.bad_request(f"Object 'Kind' is missing in '{raw.decode()[:200]}'"))
    if kind != "Eviction":
        return None, _fail(
            o.bad_request(
                f"the object provided is unrecognized (must be of type Eviction): "
                f'no kind "{kind}" is registered for the Eviction subresource'
            )
        )
    accepted = [f"policy/{v}" for v in store.policy_versions]
    if api_version not in accepted:
        return None, _fail(
            o.bad_request(
                f'no kind "Eviction" is registered for version "{api_version}" in scheme '
                f'"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"'
            )
        )
    return body, None


def _dry_run_values(values: Any, field_path: str, name: str) -> tuple[bool, Answer | None]:
    if values in (None, [], ""):
        return False, None
    if isinstance(values, str):
        values = [values]
    for v in values:
        if v != "All":
            cause = {
                "reason": "FieldValueNotSupported",
                "field": field_path,
                "message": f'Unsupported value: "{v}": supported values: "All"',
            }
            return False, _fail(o.invalid("policy", "Eviction", name, [cause]))
    return True, None


def evict(
    store: Store,
    namespace: str,
    name: str,
    raw_body: bytes,
    query_dry_run: list[str] | None = None,
    *,
    pdb_conflict: Callable[[], bool] | None = None,
) -> Answer:
    """Decide and apply one eviction. The caller must hold store.lock."""
    eviction, err = _parse_eviction(store, raw_body)
    if err:
        return err
    assert eviction is not None
    meta = eviction.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        return _fail(o.bad_request("name in URL does not match name in Eviction object"))
    if meta.get("namespace") and meta["namespace"] != namespace:
        return _fail(
            o.bad_request("the namespace of the provided object does not match the namespace sent on the request")
        )
    options = eviction.get("deleteOptions") or {}
    if not isinstance(options, dict):
        return _fail(o.bad_request("json: cannot unmarshal deleteOptions into Go value of type v1.DeleteOptions"))
    dry_q, err = _dry_run_values(query_dry_run, "dryRun", name)
    if err:
        return err
    dry_b, err = _dry_run_values(options.get("dryRun"), "deleteOptions.dryRun", name)
    if err:
        return err
    dry_run = dry_q or dry_b
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        return _fail(
            o.bad_request(
                "json: cannot unmarshal into Go struct field DeleteOptions.deleteOptions."
                "gracePeriodSeconds of type int64"
            )
        )

    # NamespaceLifecycle admission runs before the eviction REST code looks at the pod.
    if store.namespace_terminating(namespace):
        return _fail(
            o.forbidden(
                "pods",
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
                [
                    {
                        "reason": "NamespaceTerminating",
                        "message": f"namespace {namespace} is being terminated",
                        "field": "metadata.namespace",
                    }
                ],
            )
        )

    pod = store.get("pods", namespace, name)
    if pod is None:
        return _fail(o.not_found("pods", name))
    pre = options.get("preconditions") or {}
    if pre.get("uid") and pre["uid"] != pod["metadata"]["uid"]:
        return _fail(
            o.conflict(
                "Pod",
                name,
                f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {pod['metadata']['uid']}",
            )
        )
    if pre.get("resourceVersion") and pre["resourceVersion"] != pod["metadata"]["resourceVersion"]:
        return _fail(
            o.conflict(
                "Pod",
                name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                f"{pod['metadata']['resourceVersion']}",
            )
        )

    def allow() -> Answer:
        if not dry_run:
            delete_pod(store, pod, grace, evicted=True)
        return Answer(201, o.status_success(201))

    # Terminal, pending or already terminating pods caused their disruption already.
    phase = pod.get("status", {}).get("phase")
    if phase in ("Succeeded", "Failed", "Pending") or pod["metadata"].get("deletionTimestamp"):
        return allow()

    pdbs = store.pdbs_for_pod(pod)
    if len(pdbs) > 1:
        # Upstream returns a bare Status with code 500 and no reason for this case.
        return Answer(
            500,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": MULTIPLE_PDBS,
                "code": 500,
            },
        )
    if not pdbs:
        return allow()
    pdb = pdbs[0]
    status = pdb.get("status") or {}
    pdb_name = pdb["metadata"]["name"]

    if not o.is_pod_ready(pod):
        # An unhealthy pod does not count towards currentHealthy, so evicting it uses no budget.
        policy = pdb["spec"].get("unhealthyPodEvictionPolicy")
        if policy == "AlwaysAllow" and store.version >= (1, 26):
            return allow()
        desired = int(status.get("desiredHealthy", 0))
        if int(status.get("currentHealthy", 0)) >= desired and desired > 0:
            return allow()

    # checkAndDecrement
    if int(status.get("observedGeneration", 0)) < int(pdb["metadata"].get("generation", 1)):
        answer = _fail(
            o.too_many_requests(
                BUDGET_VIOLATED,
                10,
                [
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {pdb_name} is still being processed by the server.",
                    }
                ],
            )
        )
        answer.headers["Retry-After"] = "10"
        return answer
    allowed = int(status.get("disruptionsAllowed", 0))
    if allowed < 0:
        return _fail(o.forbidden("poddisruptionbudget.policy", pdb_name, "pdb disruptions allowed is negative"))
    if allowed == 0:
        return _fail(
            o.too_many_requests(
                BUDGET_VIOLATED,
                0,
                [
                    {
                        "reason": "DisruptionBudget",
                        "message": f"The disruption budget {pdb_name} needs {status.get('desiredHealthy', 0)} "
                        f"healthy pods and has {status.get('currentHealthy', 0)} currently",
                    }
                ],
            )
        )
    if dry_run:
        return allow()
    # Conflicts happen on the PDB status update, which a dry run never makes.
    if pdb_conflict is not None and pdb_conflict():
        answer = _fail(o.gateway_timeout(f'couldn\'t update PodDisruptionBudget "{pdb_name}" due to conflicts', 10))
        answer.headers["Retry-After"] = "10"
        return answer
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        holder = {"status": status}
        o.set_condition(holder, "DisruptionAllowed", False, "InsufficientPods", "")
        for c in status.get("conditions", []):
            c.pop("lastProbeTime", None)
            c.setdefault("message", "")
    store.disrupted.setdefault((namespace, pdb_name), {})[name] = monotonic()
    status.setdefault("disruptedPods", {})[name] = o.now_iso()
    pdb["status"] = status
    store.modified("poddisruptionbudgets", pdb)
    return allow()


def delete_pod(store: Store, pod: Obj, grace: int | None, *, evicted: bool = False) -> Obj:
    """Start (or finish) a pod's graceful deletion, as the pod REST strategy does.

    Returns the pod object as the DELETE response shows it.
    """
    meta = pod["metadata"]
    key = (meta["namespace"], meta["name"])
    if grace is None:
        grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
    grace = max(0, grace)
    phase = pod.get("status", {}).get("phase")
    # Unscheduled and terminal pods have no kubelet to wait for: gone at once.
    if not pod["spec"].get("nodeName") or phase in ("Succeeded", "Failed"):
        grace = 0
    if meta.get("deletionTimestamp") and grace >= int(meta.get("deletionGracePeriodSeconds", 0)):
        return pod  # already terminating with a shorter or equal grace period
    if evicted and store.version >= (1, 26) and o.get_condition(pod, "DisruptionTarget") is None:
        o.set_condition(pod, "DisruptionTarget", True, "EvictionByEvictionAPI", "Eviction API: evicting")
    if grace == 0:
        store.remove("pods", key)
        return pod
    meta["deletionTimestamp"] = o.now_iso(store.real_seconds(grace))
    meta["deletionGracePeriodSeconds"] = grace
    sim = store.pod_sim.setdefault(meta["uid"], PodSim(key))
    sim.delete_at = monotonic() + store.real_seconds(grace)
    store.modified("pods", pod)
    return pod
