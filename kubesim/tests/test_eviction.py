"""Every eviction answer of the DESIGN.md table, through the official kubernetes Python client."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubernetes")
from kubernetes.client import ApiException, CoreV1Api

from kubesim import Simulator
from kubesim.tests.conftest import api_client, eviction_body, pod_named, wait_until


def evict(
    core: CoreV1Api, namespace: str, name: str, dry_run: str | None = None, **options: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST an eviction; returns (HTTP status, body, headers) whatever the answer."""
    kwargs = {"dry_run": dry_run} if dry_run else {}
    try:
        resp = core.create_namespaced_pod_eviction(
            name, namespace, eviction_body(name, namespace, **options), _preload_content=False, **kwargs
        )
        return resp.status, json.loads(resp.data), dict(resp.headers)
    except ApiException as exc:
        return exc.status, json.loads(exc.body), dict(exc.headers or {})


def pdb_status(sim: Simulator, name: str) -> dict[str, Any]:
    return next(p for p in sim.state()["pdbs"] if p["name"] == name)


def test_allowed_eviction_answers_201_and_starts_graceful_deletion(demo: Simulator, core: CoreV1Api) -> None:
    name = pod_named(demo, "shop", "web-", node="node-2")[0]
    code, body, _ = evict(core, "shop", name, gracePeriodSeconds=7)
    assert code == 201
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
    pod = core.read_namespaced_pod(name, "shop")
    assert pod.metadata.deletion_timestamp is not None
    assert pod.metadata.deletion_grace_period_seconds == 7  # the request overrides the pod's 30
    target = next(c for c in pod.status.conditions if c.type == "DisruptionTarget")
    assert (target.status, target.reason) == ("True", "EvictionByEvictionAPI")


def test_allowed_eviction_uses_the_pods_grace_period_without_override(demo: Simulator, core: CoreV1Api) -> None:
    name = pod_named(demo, "payments", "checkout-")[0]
    assert evict(core, "payments", name)[0] == 201
    assert core.read_namespaced_pod(name, "payments").metadata.deletion_grace_period_seconds == 45


def test_successful_eviction_decrements_the_budget_at_once(demo: Simulator, core: CoreV1Api) -> None:
    before = pdb_status(demo, "web-pdb")
    assert before["disruptionsAllowed"] == 1
    name = pod_named(demo, "shop", "web-")[0]
    demo.store.lock.acquire()  # keep the controller from recomputing in between
    try:
        from kubesim.eviction import evict as evict_now

        answer = evict_now(demo.store, "shop", name, json.dumps(eviction_body(name, "shop")).encode())
        assert answer.code == 201
        pdb = demo.store.get("poddisruptionbudgets", "shop", "web-pdb")
        assert pdb["status"]["disruptionsAllowed"] == 0
        assert name in pdb["status"]["disruptedPods"]
    finally:
        demo.store.lock.release()


def test_budget_violation_answers_429_with_disruption_budget_cause(demo: Simulator, core: CoreV1Api) -> None:
    first, second = pod_named(demo, "shop", "web-", node="node-2")
    assert evict(core, "shop", first)[0] == 201
    code, body, headers = evict(core, "shop", second)
    assert code == 429
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    [cause] = body["details"]["causes"]
    assert cause["reason"] == "DisruptionBudget"
    assert cause["message"].startswith("The disruption budget web-pdb needs 2 healthy pods and has ")
    assert "retryAfterSeconds" not in body["details"] and "retry-after" not in {k.lower() for k in headers}


def test_blocked_pod_becomes_evictable_when_the_replacement_is_ready(demo: Simulator, core: CoreV1Api) -> None:
    first, second = pod_named(demo, "shop", "web-", node="node-2")
    assert evict(core, "shop", first)[0] == 201
    assert evict(core, "shop", second)[0] == 429
    # readyAfterSeconds 20 at time scale 10: about two seconds.
    wait_until(lambda: evict(core, "shop", second)[0] == 201, timeout=10, interval=0.25)


def test_pdb_not_yet_processed_answers_429_with_retry_after_10(demo: Simulator, core: CoreV1Api) -> None:
    name = pod_named(demo, "analytics", "etl-worker-")[0]
    code, body, headers = evict(core, "analytics", name)
    assert code == 429
    assert body["details"]["retryAfterSeconds"] == 10
    assert headers.get("Retry-After") == "10"
    assert "still being processed" in body["details"]["causes"][0]["message"]
    assert body["details"]["causes"][0]["reason"] == "DisruptionBudget"


def test_changed_pdb_is_still_being_processed_until_released(demo: Simulator, core: CoreV1Api) -> None:
    demo.set_pdb("data", "postgres-pdb", hold=True)
    code, body, _ = evict(core, "data", "postgres-0")
    assert code == 429 and body["details"]["retryAfterSeconds"] == 10
    demo.set_pdb("data", "postgres-pdb", hold=False)
    wait_until(
        lambda: pdb_status(demo, "postgres-pdb")["observedGeneration"] == pdb_status(demo, "postgres-pdb")["generation"]
    )
    assert evict(core, "data", "postgres-0")[0] == 201


def test_api_throttling_answers_429_without_budget_cause(demo: Simulator, core: CoreV1Api) -> None:
    demo.inject_fault("throttle", count=1, path="/eviction$", retry_after=3)
    code, body, headers = evict(core, "data", "postgres-0")
    assert code == 429 and headers.get("Retry-After") == "3"
    assert body["details"] == {"retryAfterSeconds": 3}
    assert evict(core, "data", "postgres-0")[0] == 201  # the fault was for one request only


def test_pod_with_two_pdbs_answers_500(demo: Simulator, core: CoreV1Api) -> None:
    code, body, _ = evict(core, "monitoring", "prometheus-0")
    assert code == 500
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["message"] == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    )


def test_missing_pod_answers_404(demo: Simulator, core: CoreV1Api) -> None:
    code, body, _ = evict(core, "shop", "no-such-pod")
    assert code == 404
    assert body["reason"] == "NotFound" and body["details"] == {"name": "no-such-pod", "kind": "pods"}
    assert body["message"] == 'pods "no-such-pod" not found'


def test_uid_precondition_mismatch_answers_409(demo: Simulator, core: CoreV1Api) -> None:
    code, body, _ = evict(core, "data", "postgres-0", preconditions={"uid": "not-the-uid"})
    assert code == 409 and body["reason"] == "Conflict"
    assert "Precondition failed: UID in precondition: not-the-uid" in body["message"]
    uid = core.read_namespaced_pod("postgres-0", "data").metadata.uid
    assert evict(core, "data", "postgres-0", preconditions={"uid": uid})[0] == 201


def test_terminating_namespace_answers_403_namespace_terminating(demo: Simulator, core: CoreV1Api) -> None:
    name = pod_named(demo, "staging", "old-app-")[0]
    code, body, _ = evict(core, "staging", name)
    assert code == 403 and body["reason"] == "Forbidden"
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    demo.set_namespace_terminating("shop")
    assert evict(core, "shop", pod_named(demo, "shop", "web-")[0])[0] == 403


def test_wrong_token_answers_401_and_token_rotation_locks_old_clients_out(
    demo: Simulator, core: CoreV1Api, tmp_path: Path
) -> None:
    bad = CoreV1Api(api_client(demo, tmp_path, token="wrong"))
    code, body, _ = evict(bad, "data", "postgres-0")
    assert code == 401 and body["reason"] == "Unauthorized" and body["kind"] == "Status"
    demo.rotate_token()
    assert evict(core, "data", "postgres-0")[0] == 401
    fresh = CoreV1Api(api_client(demo, tmp_path))
    demo.inject_fault("unauthorized", count=1)
    assert evict(fresh, "data", "postgres-0")[0] == 401
    assert evict(fresh, "data", "postgres-0")[0] == 201


def test_pdb_update_conflict_fault_answers_504(demo: Simulator, core: CoreV1Api) -> None:
    demo.inject_fault("pdb_conflict", count=1)
    assert evict(core, "default", "toolbox")[0] == 201  # no PDB: the fault waits for a PDB update
    code, body, headers = evict(core, "data", "postgres-0")
    assert code == 504 and body["reason"] == "Timeout"
    assert body["message"] == 'couldn\'t update PodDisruptionBudget "postgres-pdb" due to conflicts'
    assert body["details"]["retryAfterSeconds"] == 10 and headers.get("Retry-After") == "10"
    assert evict(core, "data", "postgres-0")[0] == 201


@pytest.mark.parametrize("where", ["query", "body"])
def test_dry_run_checks_everything_and_changes_nothing(demo: Simulator, core: CoreV1Api, where: str) -> None:
    rv_before = demo.state()["resourceVersion"]
    allowed = pdb_status(demo, "web-pdb")["disruptionsAllowed"]
    name = pod_named(demo, "shop", "web-")[0]
    if where == "query":
        code, _, _ = evict(core, "shop", name, dry_run="All")
    else:
        code, _, _ = evict(core, "shop", name, dryRun=["All"])
    assert code == 201
    assert demo.state()["resourceVersion"] == rv_before
    assert pdb_status(demo, "web-pdb")["disruptionsAllowed"] == allowed
    assert core.read_namespaced_pod(name, "shop").metadata.deletion_timestamp is None
    assert evict(core, "monitoring", "prometheus-0", dry_run="All")[0] == 500  # full check


def test_no_pdb_pod_is_always_evicted(demo: Simulator, core: CoreV1Api) -> None:
    assert evict(core, "batch", "adhoc-debug")[0] == 201


def test_pending_succeeded_and_terminating_pods_skip_the_budget_check(demo: Simulator, core: CoreV1Api) -> None:
    assert evict(core, "batch", "gpu-trainer")[0] == 201  # Pending: deleted at once
    assert evict(core, "batch", "db-migrate-28973410-x7k2p")[0] == 201  # Succeeded
    names = {p["name"] for p in demo.state()["pods"]}
    assert "gpu-trainer" not in names and "db-migrate-28973410-x7k2p" not in names
    first, second = pod_named(demo, "shop", "web-", node="node-2")
    assert evict(core, "shop", first)[0] == 201
    assert evict(core, "shop", first)[0] == 201  # already terminating: no budget needed
    demo.set_pod("shop", second, phase="Failed")
    assert evict(core, "shop", second)[0] == 201


def test_always_allow_policy_lets_unready_pods_go_but_guards_ready_ones(demo: Simulator, core: CoreV1Api) -> None:
    ready = [p["name"] for p in demo.state()["pods"] if p["namespace"] == "search" and p["ready"]]
    unready = [p["name"] for p in demo.state()["pods"] if p["namespace"] == "search" and not p["ready"]]
    assert evict(core, "search", ready[0])[0] == 429
    assert evict(core, "search", unready[0])[0] == 201


def test_if_healthy_budget_policy_evicts_unready_pods_only_while_the_budget_holds(
    demo: Simulator, core: CoreV1Api
) -> None:
    _a, b, c = pod_named(demo, "shop", "web-")
    demo.set_pod("shop", c, ready=False)
    demo.reconcile()
    assert pdb_status(demo, "web-pdb")["currentHealthy"] == 2  # == desiredHealthy
    assert evict(core, "shop", c, dry_run="All")[0] == 201
    demo.set_pod("shop", b, ready=False)
    demo.reconcile()
    code, body, _ = evict(core, "shop", c)
    assert code == 429
    assert body["details"]["causes"][0]["message"] == (
        "The disruption budget web-pdb needs 2 healthy pods and has 1 currently"
    )


def test_parallel_evictions_never_overrun_the_budget(demo: Simulator, core: CoreV1Api) -> None:
    names = pod_named(demo, "shop", "web-")
    codes: list[int] = []
    threads = [threading.Thread(target=lambda n=n: codes.append(evict(core, "shop", n)[0])) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(codes) == [201, 429, 429]


def test_policy_v1beta1_eviction_on_old_versions(tmp_path: Path) -> None:
    with Simulator(scenario="demo", version="1.20", time_scale=10) as sim:
        core = CoreV1Api(api_client(sim, tmp_path))
        name = pod_named(sim, "shop", "web-")[0]
        body = eviction_body(name, "shop", api_version="policy/v1beta1")
        resp = core.create_namespaced_pod_eviction(name, "shop", body, _preload_content=False)
        assert resp.status == 201
        with pytest.raises(ApiException) as exc:
            core.create_namespaced_pod_eviction(name, "shop", eviction_body(name, "shop"))
        assert exc.value.status == 400
