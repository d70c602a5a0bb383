"""PDB arithmetic, selectors and scenario loading, without HTTP."""

from __future__ import annotations

import pytest

from kubesim import Simulator
from kubesim.scenarios import ScenarioError, available, generate, resolve
from kubesim.selectors import SelectorError, matches_all, parse_field_selector, parse_label_selector, selector_matches
from kubesim.state import scaled_value


@pytest.mark.parametrize(
    ("value", "total", "expected"),
    [
        (2, 10, 2),
        ("50%", 3, 2),
        ("25%", 3, 1),
        ("100%", 4, 4),
        ("0%", 5, 0),
        ("34%", 3, 2),
    ],
)
def test_percentages_round_up_like_the_disruption_controller(value: int | str, total: int, expected: int) -> None:
    assert scaled_value(value, total) == expected


def pdb(sim: Simulator, name: str) -> dict:
    return next(p for p in sim.state()["pdbs"] if p["name"] == name)


def test_pdb_status_for_min_available_max_unavailable_and_percentages() -> None:
    spec = {
        "nodes": ["n1", "n2"],
        "workloads": [{"kind": "ReplicaSet", "namespace": "a", "name": "rs", "labels": {"app": "x"}, "replicas": 4}],
        "pods": [{"namespace": "a", "name": "bare", "node": "n1", "labels": {"app": "bare"}}],
        "pdbs": [
            {"namespace": "a", "name": "min-int", "selector": {"app": "x"}, "minAvailable": 3},
            {"namespace": "b", "name": "other-ns", "selector": {"app": "x"}, "minAvailable": 1},
        ],
    }
    sim = Simulator(scenario=spec)
    assert (pdb(sim, "min-int")["desiredHealthy"], pdb(sim, "min-int")["disruptionsAllowed"]) == (3, 1)
    assert pdb(sim, "other-ns")["expectedPods"] == 0 and pdb(sim, "other-ns")["disruptionsAllowed"] == 0
    for name, field, value, desired, allowed in [
        ("max-int", "maxUnavailable", 1, 3, 1),
        ("max-pct", "maxUnavailable", "30%", 2, 2),  # ceil(1.2) = 2 unavailable
        ("min-pct", "minAvailable", "60%", 3, 1),  # ceil(2.4) = 3
    ]:
        spec["pdbs"] = [{"namespace": "a", "name": name, "selector": {"app": "x"}, field: value}]
        sim.load_scenario(spec)
        status = pdb(sim, name)
        assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (4, desired, allowed)
    # A percentage over pods without a controller cannot be computed: the controller fails safe.
    spec["pdbs"] = [{"namespace": "a", "name": "bare-pdb", "selector": {"app": "bare"}, "maxUnavailable": "50%"}]
    sim.load_scenario(spec)
    assert pdb(sim, "bare-pdb")["disruptionsAllowed"] == 0
    with sim.store.lock:
        cond = sim.store.get("poddisruptionbudgets", "a", "bare-pdb")["status"]["conditions"][0]
    assert cond["reason"] == "SyncFailed"


def test_label_selector_parsing() -> None:
    labels = {"app": "web", "tier": "front"}
    assert matches_all(parse_label_selector("app=web,tier!=back"), labels)
    assert matches_all(parse_label_selector("app==web,tier in (front, mid)"), labels)
    assert not matches_all(parse_label_selector("app notin (web)"), labels)
    assert matches_all(parse_label_selector("tier,!zone"), labels)
    assert not matches_all(parse_label_selector("zone"), labels)
    with pytest.raises(SelectorError):
        parse_label_selector("a=b,=c")


def test_label_selector_objects() -> None:
    assert selector_matches({}, {"a": "b"})  # policy/v1: an empty selector selects every pod
    assert not selector_matches(None, {"a": "b"})
    sel = {"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "c", "operator": "DoesNotExist"}]}
    assert selector_matches(sel, {"a": "b"}) and not selector_matches(sel, {"a": "b", "c": "d"})


def test_field_selector_rejects_unknown_fields() -> None:
    reqs = parse_field_selector("spec.nodeName=n1,status.phase!=Failed", "pods")
    pod = {"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert all(r.matches(pod) for r in reqs)
    with pytest.raises(SelectorError):
        parse_field_selector("spec.colour=red", "pods")


def test_scenario_files_load_and_pod_names_are_stable() -> None:
    assert {"demo", "minimal"} <= set(available())
    first = {p["name"] for p in Simulator(scenario="demo").state()["pods"]}
    second = {p["name"] for p in Simulator(scenario="demo").state()["pods"]}
    assert first == second
    with pytest.raises(ScenarioError):
        resolve("no-such-scenario")


def test_generator_builds_large_clusters() -> None:
    sim = Simulator(scenario="generated:nodes=50,pods=2000,pdbs=200")
    state = sim.state()
    assert len(state["nodes"]) == 50
    assert len([p for p in state["pods"] if p["owner"] and p["owner"].startswith("ReplicaSet/")]) == 2000
    assert len(state["pdbs"]) == 200
    blocked = [p for p in state["pdbs"] if p["disruptionsAllowed"] == 0]
    assert 40 <= len(blocked) <= 60  # a quarter of the budgets block
    assert generate(nodes=2, pods=10, pdbs=1)["name"] == "generated"
    with pytest.raises(ScenarioError):
        resolve("generated:nodes=many")
