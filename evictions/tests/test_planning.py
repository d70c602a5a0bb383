"""Planning: kubectl drain's filters and the PDB preflight as tables; plans against kubesim's demo cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from clusters import kube
from clusters.kubetypes import Answer, Cause, LabelSelector, Owner, Pdb, Pod, Requirement
from clusters.models import Credentials
from evictions.planning import (
    Disposition,
    DrainOptions,
    PdbCheck,
    Plan,
    PodTarget,
    assemble,
    classify,
    dry_run_disagreement,
    parse_selector,
    plan_drain,
    plan_pods,
    preflight,
)
from kubesim import Simulator

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
RS = (Owner("ReplicaSet", "web-6d4b9c7f5d", True),)
DS = (Owner("DaemonSet", "kube-proxy", True),)
NODE = (Owner("Node", "node-1", True),)


def pod(
    name: str = "web-1",
    *,
    namespace: str = "shop",
    phase: str = "Running",
    ready: bool = True,
    labels: dict[str, str] | None = None,
    owners: tuple[Owner, ...] = RS,
    mirror: bool = False,
    emptydir: bool = False,
    deleting: bool = False,
) -> Pod:
    return Pod(
        namespace=namespace,
        name=name,
        uid=f"uid-{name}",
        node="node-2",
        phase=phase,
        ready=ready,
        ready_since=NOW if ready else None,
        labels={"app": "web"} if labels is None else labels,
        owners=owners,
        mirror=mirror,
        uses_emptydir=emptydir,
        deleting=deleting,
        deletion_timestamp=NOW if deleting else None,
    )


def pdb(
    name: str = "web-pdb",
    *,
    selector: dict[str, str] | None = None,
    allowed: int = 1,
    healthy: int = 3,
    desired: int = 2,
    expected: int = 3,
    generation: int = 1,
    observed: int = 1,
    policy: str = "IfHealthyBudget",
) -> Pdb:
    return Pdb(
        namespace="shop",
        name=name,
        uid=f"uid-{name}",
        selector=LabelSelector(tuple(sorted((selector or {"app": "web"}).items()))),
        min_available="2",
        max_unavailable=None,
        disruptions_allowed=allowed,
        current_healthy=healthy,
        desired_healthy=desired,
        expected_pods=expected,
        generation=generation,
        observed_generation=observed,
        unhealthy_pod_eviction_policy=policy,
    )


NONE = DrainOptions()
ALL = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True)


# ---- classify: every kubectl drain filter under every option that matters ------------------------------------------


@pytest.mark.parametrize(
    ("the_pod", "options", "disposition", "reason", "error", "warning"),
    [
        pytest.param(pod(), NONE, "evict", "managed by ReplicaSet web-6d4b9c7f5d", "", "", id="replicaset"),
        pytest.param(
            pod("kube-proxy-x", namespace="kube-system", owners=DS),
            NONE,
            "skip",
            "DaemonSet-managed",
            "cannot delete DaemonSet-managed Pods (use ignore_daemonsets): kube-system/kube-proxy-x",
            "",
            id="daemonset-refused",
        ),
        pytest.param(
            pod("kube-proxy-x", namespace="kube-system", owners=DS),
            DrainOptions(ignore_daemonsets=True),
            "skip",
            "DaemonSet-managed: skipped (ignore_daemonsets)",
            "",
            "ignoring DaemonSet-managed Pods",
            id="daemonset-ignored",
        ),
        pytest.param(
            pod("kube-proxy-x", owners=DS, phase="Failed"), NONE, "evict", "Failed: finished", "", "", id="ds-finished"
        ),
        pytest.param(pod("etcd", owners=NODE, mirror=True), NONE, "skip", "mirror pod", "", "", id="mirror"),
        pytest.param(pod("etcd", owners=NODE, mirror=True), ALL, "skip", "mirror pod", "", "", id="mirror-all-options"),
        pytest.param(
            pod("cache", emptydir=True),
            NONE,
            "skip",
            "emptyDir",
            "cannot delete Pods with local storage (use delete_emptydir_data): shop/cache",
            "",
            id="emptydir-refused",
        ),
        pytest.param(
            pod("cache", emptydir=True),
            DrainOptions(delete_emptydir_data=True),
            "evict",
            "emptyDir data is lost",
            "",
            "deleting Pods with local storage",
            id="emptydir-allowed",
        ),
        pytest.param(
            pod("debug", owners=()),
            NONE,
            "skip",
            "no controller",
            "cannot delete Pods that declare no controller (use force): shop/debug",
            "",
            id="bare-refused",
        ),
        pytest.param(
            pod("debug", owners=(Owner("Job", "x", False),)),
            NONE,
            "skip",
            "no controller",
            "cannot delete Pods that declare no controller (use force): shop/debug",
            "",
            id="owner-without-controller-flag-refused",
        ),
        pytest.param(
            pod("debug", owners=()),
            DrainOptions(force=True),
            "evict",
            "no controller; nothing will replace it (force)",
            "",
            "deleting Pods that declare no controller",
            id="bare-forced",
        ),
        pytest.param(
            pod("debug", owners=(), emptydir=True),
            DrainOptions(force=True),
            "skip",
            "emptyDir",
            "cannot delete Pods with local storage (use delete_emptydir_data): shop/debug",
            "",
            id="bare-emptydir-local-storage-first",
        ),
        pytest.param(
            pod("debug", owners=(), emptydir=True),
            DrainOptions(delete_emptydir_data=True),
            "skip",
            "no controller",
            "cannot delete Pods that declare no controller (use force): shop/debug",
            "",
            id="bare-emptydir-then-unmanaged",
        ),
        pytest.param(
            pod("debug", owners=(), emptydir=True),
            ALL,
            "evict",
            "no controller",
            "",
            "deleting Pods with local storage; deleting Pods that declare no controller",
            id="bare-emptydir-both-options",
        ),
        pytest.param(
            pod("migrate", owners=(), emptydir=True, phase="Succeeded"),
            NONE,
            "evict",
            "Succeeded: finished, removed without a budget check",
            "",
            "",
            id="succeeded-bare-emptydir",
        ),
        pytest.param(
            pod("migrate", owners=(), phase="Failed"), NONE, "evict", "Failed: finished", "", "", id="failed-bare"
        ),
        pytest.param(pod(deleting=True), NONE, "wait", "already terminating", "", "", id="terminating"),
        pytest.param(
            pod("debug", owners=(), emptydir=True, deleting=True),
            NONE,
            "wait",
            "already terminating",
            "",
            "",
            id="terminating-bare-needs-nothing",
        ),
        pytest.param(
            pod("kube-proxy-x", owners=DS, deleting=True),
            NONE,
            "skip",
            "DaemonSet-managed",
            "cannot delete DaemonSet-managed Pods (use ignore_daemonsets): shop/kube-proxy-x",
            "",
            id="terminating-daemonset-still-refused",
        ),
    ],
)
def test_classify_follows_kubectl_drain_filters(the_pod, options, disposition, reason, error, warning):
    result = classify(the_pod, options)
    assert result.disposition == Disposition(disposition)
    assert reason in result.reason
    assert result.error == error
    assert result.warning == warning


# ---- preflight: the API server's budget decision ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("the_pod", "pdbs", "blocked", "multiple", "words"),
    [
        pytest.param(pod(), [], False, False, "no PodDisruptionBudget: always evictable", id="no-pdb"),
        pytest.param(
            pod(labels={"app": "api"}), [pdb()], False, False, "no PodDisruptionBudget", id="pdb-selects-other-pods"
        ),
        pytest.param(
            pod(namespace="other"), [pdb()], False, False, "no PodDisruptionBudget", id="pdb-in-another-namespace"
        ),
        pytest.param(
            pod(),
            [pdb()],
            False,
            False,
            "shop/web-pdb allows 1 disruption (healthy 3, desired 2, expected 3)",
            id="one-pdb-allows",
        ),
        pytest.param(
            pod(),
            [pdb(allowed=0, healthy=2)],
            True,
            False,
            "blocked now: shop/web-pdb allows 0 disruptions (healthy 2, desired 2)",
            id="one-pdb-at-zero",
        ),
        pytest.param(
            pod(),
            [pdb(), pdb("team-pdb")],
            False,
            True,
            "more than one PodDisruptionBudget selects this pod (shop/web-pdb, shop/team-pdb): "
            "the eviction will fail with 500",
            id="two-pdbs",
        ),
        pytest.param(
            pod(ready=False),
            [pdb(allowed=0, healthy=2, desired=3, policy="AlwaysAllow")],
            False,
            False,
            "AlwaysAllow",
            id="unready-always-allow",
        ),
        pytest.param(
            pod(ready=False),
            [pdb(allowed=0, healthy=2, desired=2)],
            False,
            False,
            "has enough healthy pods",
            id="unready-if-healthy-budget-healthy",
        ),
        pytest.param(
            pod(ready=False),
            [pdb(allowed=0, healthy=1, desired=2)],
            True,
            False,
            "blocked now",
            id="unready-if-healthy-budget-unhealthy",
        ),
        pytest.param(
            pod(ready=False),
            [pdb(allowed=0, healthy=0, desired=0)],
            True,
            False,
            "blocked now",
            id="unready-desired-zero-is-not-healthy",
        ),
        pytest.param(
            pod(phase="Pending", ready=False),
            [pdb(allowed=0)],
            False,
            False,
            "Pending: no budget check",
            id="pending",
        ),
        pytest.param(pod(phase="Succeeded"), [pdb(allowed=0)], False, False, "no budget check", id="succeeded"),
        pytest.param(
            pod(deleting=True), [pdb(allowed=0), pdb("b")], False, False, "already terminating", id="terminating"
        ),
        pytest.param(
            pod(),
            [pdb(generation=2, observed=1)],
            True,
            False,
            "still being processed",
            id="unprocessed",
        ),
        pytest.param(
            pod(ready=False),
            [pdb(generation=2, observed=1, policy="AlwaysAllow")],
            False,
            False,
            "AlwaysAllow",
            id="unready-always-allow-before-processing-check",
        ),
    ],
)
def test_preflight_judges_a_pod_as_the_api_server_does(the_pod, pdbs, blocked, multiple, words):
    check = preflight([the_pod], pdbs)[the_pod.key]
    assert check.blocked_now is blocked
    assert check.multiple_pdbs is multiple
    assert check.waits_for_budget is False
    assert words in check.words
    assert [p.name for p in check.pdbs] == [p.name for p in pdbs if p.selects(the_pod)]


def test_pods_sharing_a_budget_wait_for_it_in_order():
    pods = [pod("web-1"), pod("web-2"), pod("web-3")]
    checks = preflight(pods, [pdb(allowed=1)])
    assert [checks[p.key].waits_for_budget for p in pods] == [False, True, True]
    assert not any(c.blocked_now for c in checks.values())
    assert checks["shop/web-2"].words == "will wait: shop/web-pdb allows 1 disruption and 3 pods of this plan need it"


def test_pods_that_use_no_budget_do_not_count_against_a_shared_one():
    pods = [pod("web-1", ready=False), pod("web-2", phase="Pending"), pod("web-3"), pod("web-4")]
    checks = preflight(pods, [pdb(allowed=1, healthy=3, desired=2)])
    assert [checks[p.key].waits_for_budget for p in pods] == [False, False, False, True]


def test_preflight_is_keyed_by_pod_and_counts_a_pod_once():
    checks = preflight([pod("web-1"), pod("web-1"), pod("web-2")], [pdb(allowed=2)])
    assert set(checks) == {"shop/web-1", "shop/web-2"}
    assert not any(c.waits_for_budget for c in checks.values())


BUDGET_429 = Answer(
    429,
    "TooManyRequests",
    "Cannot evict pod as it would violate the pod's disruption budget.",
    (Cause("DisruptionBudget", "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"),),
)
CHECK_OK = PdbCheck((), False, False, False, "no PodDisruptionBudget: always evictable")
CHECK_BLOCKED = PdbCheck((), True, False, False, "blocked now")
CHECK_MULTIPLE = PdbCheck((), False, True, False, "more than one")


@pytest.mark.parametrize(
    ("check", "answer", "agrees"),
    [
        (CHECK_OK, Answer(201), True),
        (CHECK_BLOCKED, BUDGET_429, True),
        (CHECK_MULTIPLE, Answer(500, message="This pod has more than one PodDisruptionBudget, which ..."), True),
        (CHECK_BLOCKED, Answer(201), False),
        (CHECK_OK, BUDGET_429, False),
        (CHECK_OK, Answer(403, "Forbidden", "namespace staging is being terminated"), False),
        (CHECK_OK, Answer(None, message="refused", transport_error="refused"), False),
    ],
)
def test_dry_run_disagreement_names_answers_the_preflight_did_not_expect(check, answer, agrees):
    assert (dry_run_disagreement(check, answer) == "") is agrees


def test_a_dry_run_that_contradicts_the_preflight_is_a_plan_warning():
    # E.g. a server older than 1.26 that ignores AlwaysAllow: the API server's own answer wins, and is shown.
    unready = pod("web-1", ready=False)
    plan = assemble(
        "pods",
        "",
        [unready, pod("web-2")],
        {"shop/web-1": classify(unready, NONE), "shop/web-2": classify(pod("web-2"), NONE)},
        [pdb(allowed=0, healthy=2, desired=3, policy="AlwaysAllow")],
        dry_runs={"shop/web-1": BUDGET_429, "shop/web-2": BUDGET_429},
    )
    assert plan.ok
    assert plan.warnings == (
        "the dry run was blocked by a budget (HTTP 429: web-pdb allows 0 disruptions: it needs 2 healthy pods and "
        "has 2, so evicting one would leave 1): shop/web-1",
    )


@pytest.mark.parametrize(
    ("text", "labels", "matches"),
    [
        ("", {}, True),
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "api"}, False),
        ("app!=web", {"app": "api"}, True),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("app", {"app": ""}, True),
        ("app", {}, False),
        ("!app", {}, True),
        ("!app", {"app": "web"}, False),
        ("app=web, tier!=db", {"app": "web", "tier": "frontend"}, True),
        ("app=web,tier!=db", {"app": "web", "tier": "db"}, False),
        ("app in (web,api),example.com/team", {"app": "api", "example.com/team": "x"}, True),
        ("app notin (web)", {"app": "web"}, False),
    ],
)
def test_pod_selector_semantics(text, labels, matches):
    assert parse_selector(text).matches(labels) is matches


def test_pod_selector_parses_to_requirements():
    assert parse_selector("app=web,tier!=db,!canary") == LabelSelector(
        (("app", "web"),), (Requirement("tier", "NotIn", ("db",)), Requirement("canary", "DoesNotExist"))
    )


@pytest.mark.parametrize("text", ["app=web,", "=web", "app=we b", "app in (web", "app=web)", "-app=x", "a=" + "b" * 64])
def test_invalid_pod_selectors_are_refused(text):
    with pytest.raises(ValueError):
        parse_selector(text)


# ---- against kubesim --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim():
    # Plans only read and dry-run, so one cluster serves every test of this module that does not evict.
    with Simulator(scenario="demo", time_scale=10) as simulator:
        yield simulator


@pytest.fixture
def endpoint(sim):
    return kube.Endpoint(sim.url, sim.ca_pem, Credentials(token=sim.token))


def by_name(plan: Plan) -> dict[str, object]:
    return {p.pod.key: p for p in plan.pods}


def assert_dry_runs_confirm_preflight(plan: Plan) -> None:
    for planned in plan.pods:
        if planned.classification.disposition is not Disposition.EVICT:
            assert planned.dry_run is None
            continue
        assert planned.dry_run is not None, planned.pod.key
        check = planned.check
        expected = 500 if check.multiple_pdbs else 429 if check.blocked_now else 201
        assert planned.dry_run.status == expected, (planned.pod.key, check.words, planned.dry_run)


def test_drain_without_options_refuses_like_kubectl(endpoint):
    plan = plan_drain(endpoint, node="node-2", options=DrainOptions(), eviction_api_version="policy/v1")
    assert not plan.ok
    errors = "\n".join(plan.errors)
    proxy = next(p.pod.key for p in plan.pods if p.pod.name.startswith("kube-proxy-"))
    cache = next(p.pod.key for p in plan.pods if p.pod.name.startswith("report-cache-"))
    assert f"cannot delete DaemonSet-managed Pods (use ignore_daemonsets): {proxy}" in plan.errors
    assert f"cannot delete Pods with local storage (use delete_emptydir_data): {cache}" in plan.errors
    assert "cannot delete Pods that declare no controller (use force): batch/adhoc-debug" in errors
    assert len(plan.errors) == 3
    assert by_name(plan)["batch/adhoc-debug"].check is None


def test_drain_with_all_options_plans_every_pod(endpoint):
    options = DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True, force=True, grace_period_seconds=20)
    plan = plan_drain(endpoint, node="node-2", options=options, eviction_api_version="policy/v1")
    assert plan.ok and plan.kind == "drain" and plan.node == "node-2"
    pods = by_name(plan)
    assert {p.pod.node for p in plan.pods} == {"node-2"}
    proxy = next(p for p in plan.pods if p.pod.name.startswith("kube-proxy-"))
    assert proxy.classification.disposition is Disposition.SKIP and proxy.check is None
    assert proxy not in plan.to_evict
    assert any(w.startswith("ignoring DaemonSet-managed Pods: kube-system/kube-proxy-") for w in plan.warnings)
    assert "deleting Pods that declare no controller: batch/adhoc-debug" in plan.warnings

    web = [p for key, p in pods.items() if key.startswith("shop/web-")]
    assert len(web) == 2
    for planned in web:
        assert planned.classification.disposition is Disposition.EVICT
        (budget,) = planned.check.pdbs
        assert (budget.key, budget.disruptions_allowed, budget.current_healthy, budget.desired_healthy) == (
            "shop/web-pdb",
            1,
            3,
            2,
        )
    # web-pdb allows one disruption and the node holds two of its pods: the second waits for a replacement.
    assert [p.check.waits_for_budget for p in web] == [False, True]
    assert web[0].check.words == "shop/web-pdb allows 1 disruption (healthy 3, desired 2, expected 3)"
    assert_dry_runs_confirm_preflight(plan)
    assert len(plan.to_evict) == len(plan.pods) - 1


def test_drain_of_node_3_foresees_the_500_and_the_429s(endpoint):
    plan = plan_drain(endpoint, node="node-3", options=ALL, eviction_api_version="policy/v1")
    pods = by_name(plan)
    prometheus = pods["monitoring/prometheus-0"]
    assert prometheus.check.multiple_pdbs and not prometheus.check.blocked_now
    assert {p.key for p in prometheus.check.pdbs} == {"monitoring/prometheus-pdb", "monitoring/observability-pdb"}
    assert prometheus.dry_run.status == 500
    assert (
        "more than one PodDisruptionBudget selects these pods, so their evictions will fail with 500: "
        + ("monitoring/prometheus-0")
        in plan.warnings
    )

    etl = next(p for key, p in pods.items() if key.startswith("analytics/etl-worker-"))
    assert etl.check.blocked_now and "still being processed" in etl.check.words
    assert etl.dry_run.status == 429 and etl.dry_run.retry_after == 10
    assert etl.to_json()["dry_run"]["budget"] == "The disruption budget etl-pdb is still being processed by the server."

    search = [p for key, p in pods.items() if key.startswith("search/")]
    assert sorted(p.check.blocked_now for p in search) == [False, True]  # the unready one goes (AlwaysAllow)
    blocked = next(p for p in search if p.check.blocked_now)
    assert blocked.check.words == "blocked now: search/search-pdb allows 0 disruptions (healthy 2, desired 3)"
    assert plan.to_json()["pods"][list(pods).index(blocked.pod.key)]["dry_run"]["budget"] == (
        "search-pdb allows 0 disruptions: it needs 3 healthy pods and has 2, 1 short"
    )
    assert_dry_runs_confirm_preflight(plan)
    assert not any("dry run" in w for w in plan.warnings)  # preflight and API server agree everywhere


def test_pod_selector_limits_the_drain(endpoint):
    plan = plan_drain(
        endpoint, node="node-2", options=DrainOptions(pod_selector="app=web,tier!=db"), eviction_api_version="policy/v1"
    )
    assert plan.ok  # the DaemonSet, emptyDir and bare pods are not part of this drain at all
    assert {p.pod.labels["app"] for p in plan.pods} == {"web"} and len(plan.pods) == 2


def test_invalid_pod_selector_is_a_plan_error(endpoint):
    plan = plan_drain(endpoint, node="node-2", options=DrainOptions(pod_selector="app=(web"), eviction_api_version="")
    assert not plan.ok and plan.errors[0].startswith("invalid pod selector") and plan.pods == ()


def test_unknown_node_is_a_plan_error(endpoint):
    plan = plan_drain(endpoint, node="node-9", options=ALL, eviction_api_version="policy/v1")
    assert plan.errors == ("node node-9 not found",) and plan.pods == ()


def test_drain_without_dry_runs_makes_no_eviction_calls(sim, endpoint):
    sim.clear_request_log()
    plan = plan_drain(endpoint, node="node-2", options=ALL, eviction_api_version="policy/v1", dry_run_evictions=False)
    assert plan.ok and all(p.dry_run is None for p in plan.pods)
    assert not any(r["path"].endswith("/eviction") for r in sim.request_log())


def test_pods_by_name_and_by_selector_are_merged_once(endpoint):
    web = kube.list_pods(endpoint, namespace="shop", label_selector="app=web")[0]
    plan = plan_pods(
        endpoint,
        targets=[
            PodTarget("shop", selector="app=web"),
            PodTarget("shop", name=web.name),
            PodTarget("default", "toolbox"),
        ],
        eviction_api_version="policy/v1",
    )
    assert plan.ok and plan.kind == "pods" and plan.node == ""
    assert [p.pod.key for p in plan.pods].count(web.key) == 1
    assert len(plan.pods) == 4
    toolbox = by_name(plan)["default/toolbox"]
    # A named bare pod needs no force: the drain filters are for drains only.
    assert toolbox.classification.disposition is Disposition.EVICT
    assert toolbox.check.words == "no PodDisruptionBudget: always evictable"
    shop = [p for p in plan.pods if p.pod.namespace == "shop"]
    assert [p.check.waits_for_budget for p in shop] == [False, True, True]
    assert_dry_runs_confirm_preflight(plan)


def test_missing_pods_and_empty_selectors_are_plan_errors(endpoint):
    plan = plan_pods(
        endpoint,
        targets=[
            PodTarget("shop", name="nope"),
            PodTarget("shop", selector="app=nope"),
            PodTarget("default", "toolbox"),
        ],
        eviction_api_version="policy/v1",
    )
    assert plan.errors == ("pod shop/nope not found", "no pods in shop match app=nope")
    assert [p.pod.key for p in plan.pods] == ["default/toolbox"]


@pytest.mark.parametrize(
    ("targets", "error"),
    [
        ([], "no pods named"),
        ([PodTarget("shop")], "needs either a name or a selector"),
        ([PodTarget("shop", name="a", selector="b=c")], "needs either a name or a selector"),
        ([PodTarget("", name="a")], "needs a namespace"),
        ([PodTarget("shop", selector="app in (web")], "invalid selector"),
    ],
)
def test_malformed_targets_are_plan_errors(endpoint, targets, error):
    plan = plan_pods(endpoint, targets=targets, eviction_api_version="policy/v1")
    assert not plan.ok and error in plan.errors[0]


def test_a_named_mirror_pod_is_skipped(endpoint):
    plan = plan_pods(endpoint, targets=[PodTarget("kube-system", "etcd-node-1")], eviction_api_version="policy/v1")
    (planned,) = plan.pods
    assert planned.classification.disposition is Disposition.SKIP and "mirror pod" in planned.classification.reason
    assert planned.dry_run is None and plan.to_evict == ()
    assert plan.errors == ("nothing to evict",)


def test_dry_runs_change_nothing(sim, endpoint):
    before = sim.state()
    plan = plan_pods(
        endpoint,
        targets=[PodTarget("shop", selector="app=web"), PodTarget("batch", "adhoc-debug")],
        eviction_api_version="policy/v1",
    )
    assert all(p.dry_run and p.dry_run.status == 201 for p in plan.pods)
    assert any(r["path"].endswith("/eviction") and "dryRun=All" in r["query"] for r in sim.request_log())
    after = sim.state()
    assert after["pods"] == before["pods"]
    assert not any(p["terminating"] for p in after["pods"] if p["namespace"] in ("shop", "batch"))
    assert after["pdbs"] == before["pdbs"]
    assert not kube.get_pod(endpoint, "batch", "adhoc-debug").deleting


def test_plan_to_json_round_trips(endpoint):
    plan = plan_drain(endpoint, node="node-3", options=ALL, eviction_api_version="policy/v1")
    data = plan.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["counts"] == {"evict": len(plan.pods) - 1, "wait": 0, "skip": 1}
    assert data["ok"] is True and data["kind"] == "drain" and data["node"] == "node-3"
    prometheus = next(p for p in data["pods"] if p["name"] == "prometheus-0")
    assert prometheus["multiple_pdbs"] is True and prometheus["dry_run"]["status"] == 500
    assert {p["name"] for p in prometheus["pdbs"]} == {"monitoring/prometheus-pdb", "monitoring/observability-pdb"}
    assert set(prometheus) >= {
        "namespace",
        "name",
        "uid",
        "node",
        "phase",
        "ready",
        "disposition",
        "reason",
        "warning",
        "error",
        "pdbs",
        "blocked_now",
        "multiple_pdbs",
        "waits_for_budget",
        "words",
        "dry_run",
    }
    skipped = next(p for p in data["pods"] if p["disposition"] == "skip")
    assert skipped["dry_run"] is None and skipped["pdbs"] == []


def test_after_a_real_eviction_the_plan_waits_for_the_terminating_pod_and_sees_the_block():
    # Its own cluster, at real speed: checkout's 45 s grace period keeps the evicted pod terminating throughout.
    with Simulator(scenario="demo", time_scale=1) as sim:
        endpoint = kube.Endpoint(sim.url, sim.ca_pem, Credentials(token=sim.token))
        first, second = sorted(kube.list_pods(endpoint, namespace="payments"), key=lambda p: p.key)
        evicted = kube.evict(endpoint, namespace="payments", name=first.name, uid=first.uid, api_version="policy/v1")
        assert evicted.status == 201

        plan = plan_drain(endpoint, node="node-3", options=ALL, eviction_api_version="policy/v1")
        pods = by_name(plan)
        waiting = pods[first.key]
        assert waiting.classification.disposition is Disposition.WAIT
        assert waiting.check.words == "already terminating: no budget check" and waiting.dry_run is None
        assert waiting in plan.to_evict
        blocked = pods[second.key]
        assert blocked.check.blocked_now and blocked.check.words.startswith("blocked now: payments/checkout-pdb")
        assert blocked.dry_run.status == 429
        assert plan.to_json()["counts"]["wait"] == 1
        assert_dry_runs_confirm_preflight(plan)


def test_policy_v1beta1_clusters_are_planned_with_v1beta1():
    with Simulator(scenario="demo", version="1.20", time_scale=10) as old:
        assert old.eviction_api_version == "policy/v1beta1"
        endpoint = kube.Endpoint(old.url, old.ca_pem, Credentials(token=old.token))
        plan = plan_drain(endpoint, node="node-2", options=ALL, eviction_api_version=old.eviction_api_version)
        assert plan.ok
        web = [p for p in plan.pods if p.pod.namespace == "shop"]
        assert [p.check.pdbs[0].key for p in web] == ["shop/web-pdb", "shop/web-pdb"]
        assert_dry_runs_confirm_preflight(plan)
        paths = [r["path"] for r in old.request_log()]
        assert "/apis/policy/v1beta1/poddisruptionbudgets" in paths
        assert not any(path.startswith("/apis/policy/v1/") for path in paths)
