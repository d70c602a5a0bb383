"""HTTP behaviour: malformed requests, auth, discovery, listing, patching, deleting, Table output."""

from __future__ import annotations

import json

import pytest

from kubesim import Simulator
from kubesim.tests.conftest import Raw, eviction_body


def assert_status(body: dict, code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason and body["message"]
    assert "Traceback" not in json.dumps(body)


def evict_path(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods/{name}/eviction"


def test_bad_json_is_400(raw: Raw) -> None:
    code, _, body = raw.request(
        "POST", evict_path("data", "postgres-0"), b"{not json", headers={"Content-Type": "application/json"}
    )
    assert code == 400
    assert_status(body, 400, "BadRequest")


def test_wrong_kind_is_400(raw: Raw) -> None:
    code, _, body = raw.request(
        "POST",
        evict_path("data", "postgres-0"),
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "postgres-0"}},
    )
    assert code == 400
    assert_status(body, 400, "BadRequest")


def test_missing_kind_is_400(raw: Raw) -> None:
    code, _, body = raw.request("POST", evict_path("data", "postgres-0"), {"metadata": {}})
    assert code == 400 and "Kind" in body["message"]


def test_name_mismatch_is_400(raw: Raw) -> None:
    code, _, body = raw.request("POST", evict_path("data", "postgres-0"), eviction_body("postgres-1", "data"))
    assert code == 400
    assert_status(body, 400, "BadRequest")
    assert body["message"] == "name in URL does not match name in Eviction object"


def test_invalid_dry_run_value_is_422(raw: Raw) -> None:
    code, _, body = raw.request(
        "POST", evict_path("data", "postgres-0"), eviction_body("postgres-0", "data", dryRun=["Sometimes"])
    )
    assert code == 422
    assert_status(body, 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "deleteOptions.dryRun"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/foos",
        "/api/v2",
        "/apis/nope/v1",
        "/apis/apps/v1/deployments",
        "/random/path",
        "/api/v1/namespaces/shop/pods/x/logs",
        "/openapi/v2",
    ],
)
def test_unknown_paths_are_404_status(raw: Raw, path: str) -> None:
    code, _, body = raw.request("GET", path)
    assert code == 404
    assert_status(body, 404, "NotFound")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", evict_path("data", "postgres-0")),
        ("PUT", "/api/v1/namespaces/data/pods/postgres-0"),
        ("POST", "/api/v1/pods"),
        ("DELETE", "/api/v1/nodes/node-1"),
        ("POST", "/version"),
    ],
)
def test_unsupported_methods_are_405(raw: Raw, method: str, path: str) -> None:
    code, _, body = raw.request(method, path, b"{}" if method in ("PUT", "POST") else None)
    assert code == 405
    assert_status(body, 405, "MethodNotAllowed")


def test_unknown_http_verb_is_405_status(raw: Raw) -> None:
    code, _, body = raw.request("PROPFIND", "/api/v1/pods")
    assert code == 405
    assert_status(body, 405, "MethodNotAllowed")


def test_unsupported_patch_type_is_415(raw: Raw) -> None:
    code, _, body = raw.request(
        "PATCH", "/api/v1/nodes/node-1", b"spec: {}", headers={"Content-Type": "application/apply-patch+yaml"}
    )
    assert code == 415
    assert_status(body, 415, "UnsupportedMediaType")


def test_bad_selector_is_400(raw: Raw) -> None:
    code, _, body = raw.request("GET", "/api/v1/pods?fieldSelector=spec.color%3Dblue")
    assert code == 400 and "field label not supported" in body["message"]


def test_missing_token_is_401_but_version_is_public(raw: Raw) -> None:
    code, _, body = raw.request("GET", "/api/v1/pods", token=False)
    assert code == 401
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    code, _, body = raw.request("GET", "/version", token=False)
    assert code == 200 and body["gitVersion"] == "v1.30.0"
    code, _, _ = raw.request("GET", "/version", token=False, headers={"Authorization": "Bearer nope"})
    assert code == 401


def test_discovery_advertises_the_eviction_subresource(raw: Raw) -> None:
    _, _, core = raw.request("GET", "/api/v1")
    eviction = next(r for r in core["resources"] if r["name"] == "pods/eviction")
    assert (eviction["group"], eviction["version"], eviction["kind"], eviction["verbs"]) == (
        "policy",
        "v1",
        "Eviction",
        ["create"],
    )
    _, _, groups = raw.request("GET", "/apis")
    assert {g["name"] for g in groups["groups"]} == {"apps", "policy"}
    _, _, policy = raw.request("GET", "/apis/policy/v1")
    assert [r["name"] for r in policy["resources"]] == ["poddisruptionbudgets"]
    _, _, apps = raw.request("GET", "/apis/apps/v1")
    assert {r["name"] for r in apps["resources"]} == {"daemonsets", "replicasets", "statefulsets"}


def test_old_versions_serve_policy_v1beta1_only() -> None:
    with Simulator(scenario="minimal", version="1.20") as sim:
        raw = Raw(sim)
        _, _, core = raw.request("GET", "/api/v1")
        eviction = next(r for r in core["resources"] if r["name"] == "pods/eviction")
        assert eviction["version"] == "v1beta1"
        _, _, groups = raw.request("GET", "/apis")
        policy = next(g for g in groups["groups"] if g["name"] == "policy")
        assert [v["version"] for v in policy["versions"]] == ["v1beta1"]
        assert raw.request("GET", "/apis/policy/v1/poddisruptionbudgets")[0] == 404
        code, _, pdbs = raw.request("GET", "/apis/policy/v1beta1/poddisruptionbudgets")
        assert code == 200 and pdbs["apiVersion"] == "policy/v1beta1"
        assert pdbs["items"][0]["apiVersion"] == "policy/v1beta1"
        code, _, body = raw.request(
            "POST", "/api/v1/namespaces/app/pods/scratch/eviction", eviction_body("scratch", "app")
        )
        assert code == 400 and "policy/v1" in body["message"]
        code, _, _ = raw.request(
            "POST",
            "/api/v1/namespaces/app/pods/scratch/eviction",
            eviction_body("scratch", "app", api_version="policy/v1beta1"),
        )
        assert code == 201
        raw.close()


def test_field_and_label_selectors(raw: Raw, demo: Simulator) -> None:
    _, _, pods = raw.request("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-2")
    assert {p["spec"]["nodeName"] for p in pods["items"]} == {"node-2"} and len(pods["items"]) == 6
    _, _, pods = raw.request("GET", "/api/v1/pods?fieldSelector=status.phase!%3DRunning")
    assert {p["metadata"]["name"] for p in pods["items"]} == {"gpu-trainer", "db-migrate-28973410-x7k2p"}
    _, _, pods = raw.request("GET", "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb,tier!%3Dbackend")
    assert len(pods["items"]) == 3
    _, _, pods = raw.request("GET", "/api/v1/pods?labelSelector=app+in+(web,checkout)")
    assert len(pods["items"]) == 5
    _, _, pods = raw.request("GET", "/api/v1/pods?labelSelector=tier&fieldSelector=metadata.namespace%3Dshop")
    assert len(pods["items"]) == 3
    _, _, pods = raw.request("GET", "/api/v1/pods?fieldSelector=metadata.name%3Dprometheus-0")
    assert [p["metadata"]["namespace"] for p in pods["items"]] == ["monitoring"]


def test_objects_have_real_shapes(raw: Raw) -> None:
    _, _, pod = raw.request("GET", "/api/v1/namespaces/data/pods/postgres-1")
    meta = pod["metadata"]
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    assert meta["uid"] and meta["creationTimestamp"] and int(meta["resourceVersion"]) > 0
    assert meta["ownerReferences"][0]["kind"] == "StatefulSet" and meta["ownerReferences"][0]["controller"]
    assert {c["type"] for c in pod["status"]["conditions"]} >= {"Ready", "PodScheduled"}
    assert pod["status"]["phase"] == "Running"
    _, _, ds = raw.request("GET", "/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy")
    assert ds["kind"] == "DaemonSet" and ds["status"]["desiredNumberScheduled"] == 3
    _, _, rs = raw.request("GET", "/apis/apps/v1/replicasets")
    assert rs["kind"] == "ReplicaSetList"
    _, _, ns = raw.request("GET", "/api/v1/namespaces/staging")
    assert ns["status"]["phase"] == "Terminating" and ns["metadata"]["deletionTimestamp"]


def test_resource_versions_increase_globally(raw: Raw) -> None:
    _, _, before = raw.request("GET", "/api/v1/pods")
    raw.request(
        "PATCH",
        "/api/v1/nodes/node-3",
        {"spec": {"unschedulable": True}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    _, _, node = raw.request("GET", "/api/v1/nodes/node-3")
    assert int(node["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])


@pytest.mark.parametrize(
    ("ctype", "cordon", "uncordon"),
    [
        (
            "application/strategic-merge-patch+json",
            {"spec": {"unschedulable": True}},
            {"spec": {"unschedulable": None}},
        ),
        ("application/merge-patch+json", {"spec": {"unschedulable": True}}, {"spec": {"unschedulable": None}}),
        (
            "application/json-patch+json",
            [{"op": "add", "path": "/spec/unschedulable", "value": True}],
            [{"op": "remove", "path": "/spec/unschedulable"}],
        ),
    ],
)
def test_node_patch_types_cordon_and_uncordon(raw: Raw, ctype: str, cordon: object, uncordon: object) -> None:
    code, _, node = raw.request("PATCH", "/api/v1/nodes/node-2", json.dumps(cordon), headers={"Content-Type": ctype})
    assert code == 200 and node["spec"]["unschedulable"] is True
    assert any(t["key"] == "node.kubernetes.io/unschedulable" for t in node["spec"]["taints"])
    code, _, node = raw.request("PATCH", "/api/v1/nodes/node-2", json.dumps(uncordon), headers={"Content-Type": ctype})
    assert code == 200 and "unschedulable" not in node["spec"] and "taints" not in node["spec"]


def test_delete_pod_honours_grace_period_and_uid_precondition(raw: Raw, demo: Simulator) -> None:
    code, _, body = raw.request(
        "DELETE",
        "/api/v1/namespaces/default/pods/toolbox",
        {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "x"}},
    )
    assert code == 409 and body["reason"] == "Conflict"
    code, _, pod = raw.request("DELETE", "/api/v1/namespaces/default/pods/toolbox?gracePeriodSeconds=12")
    assert code == 200 and pod["metadata"]["deletionGracePeriodSeconds"] == 12
    code, _, pod = raw.request("DELETE", "/api/v1/namespaces/default/pods/toolbox", {"gracePeriodSeconds": 0})
    assert code == 200
    assert raw.request("GET", "/api/v1/namespaces/default/pods/toolbox")[0] == 404


def test_table_answers_for_kubectl_get(raw: Raw) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    _, _, table = raw.request("GET", "/api/v1/pods", headers={"Accept": accept})
    assert table["kind"] == "Table" and table["columnDefinitions"][0]["name"] == "Name"
    row = table["rows"][0]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["namespace"]


def test_keep_alive_serves_many_requests_on_one_connection(raw: Raw) -> None:
    for _ in range(50):
        assert (
            raw.request("POST", evict_path("data", "postgres-0") + "?dryRun=All", eviction_body("postgres-0", "data"))[
                0
            ]
            == 201
        )


# ---- paged lists ----------------------------------------------------------------------------------------------------


def read_pages(raw: Raw, path: str, limit: int, headers: dict[str, str] | None = None) -> list[dict]:
    pages, token = [], ""
    while True:
        sep = "&" if "?" in path else "?"
        query = f"{sep}limit={limit}" + (f"&continue={token}" if token else "")
        code, _, page = raw.request("GET", path + query, headers=headers)
        assert code == 200, page
        pages.append(page)
        token = page["metadata"].get("continue", "")
        if not token:
            return pages


def test_a_list_comes_in_pages_of_limit_items_that_add_up_to_the_whole_list(raw: Raw) -> None:
    _, _, whole = raw.request("GET", "/api/v1/pods")
    pages = read_pages(raw, "/api/v1/pods", 7)
    assert [len(page["items"]) for page in pages[:-1]] == [7] * (len(pages) - 1) and 0 < len(pages[-1]["items"]) <= 7
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for page in pages for p in page["items"]]
    assert names == [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in whole["items"]]
    assert pages[0]["metadata"]["remainingItemCount"] == len(names) - 7
    assert "remainingItemCount" not in pages[-1]["metadata"]
    # Every page reports the version the list started at, from which a watch continues.
    assert {page["metadata"]["resourceVersion"] for page in pages} == {pages[0]["metadata"]["resourceVersion"]}


def test_paging_applies_after_the_filters_and_to_every_list(raw: Raw) -> None:
    pages = read_pages(raw, "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-2", 4)
    assert [len(page["items"]) for page in pages] == [4, 2]
    assert [len(page["items"]) for page in read_pages(raw, "/api/v1/nodes", 2)] == [2, 1]
    pdbs = read_pages(raw, "/apis/policy/v1/poddisruptionbudgets", 3)
    assert [len(page["items"]) for page in pdbs] == [3, 3, 1]
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    tables = read_pages(raw, "/api/v1/nodes", 2, headers={"Accept": accept})
    assert [len(table["rows"]) for table in tables] == [2, 1]


def test_a_page_continues_after_the_last_key_even_when_objects_change_between_pages(raw: Raw, demo: Simulator) -> None:
    _, _, first = raw.request("GET", "/api/v1/namespaces/data/pods?limit=1")
    assert [p["metadata"]["name"] for p in first["items"]] == ["postgres-0"]
    raw.request("DELETE", "/api/v1/namespaces/data/pods/postgres-1", {"gracePeriodSeconds": 0})
    token = first["metadata"]["continue"]
    _, _, rest = raw.request("GET", f"/api/v1/namespaces/data/pods?limit=5&continue={token}")
    assert [p["metadata"]["name"] for p in rest["items"]] == ["postgres-2"]
    assert "continue" not in rest["metadata"]


@pytest.mark.parametrize("limit", ["0", ""])
def test_no_limit_is_one_page(raw: Raw, limit: str) -> None:
    _, _, page = raw.request("GET", f"/api/v1/pods?limit={limit}")
    assert "continue" not in page["metadata"] and len(page["items"]) > 20


@pytest.mark.parametrize("query", ["limit=many", "limit=2&continue=not-a-token", "continue=e30"])
def test_a_bad_limit_or_continue_token_is_400(raw: Raw, query: str) -> None:
    code, _, body = raw.request("GET", f"/api/v1/pods?{query}")
    assert code == 400
    assert_status(body, 400, "BadRequest")


def test_a_continue_token_from_before_a_scenario_load_is_410_expired(raw: Raw, demo: Simulator) -> None:
    _, _, first = raw.request("GET", "/api/v1/pods?limit=2")
    demo.load_scenario("demo")
    code, _, body = raw.request("GET", f"/api/v1/pods?limit=2&continue={first['metadata']['continue']}")
    assert code == 410
    assert_status(body, 410, "Expired")
    assert "too old to display a consistent list" in body["message"]


def test_an_expired_fault_answers_the_next_continued_page_only(raw: Raw, demo: Simulator) -> None:
    demo.inject_fault("expired", path="/pods$")
    _, _, first = raw.request("GET", "/api/v1/pods?limit=2")  # a first page does not consume it
    assert len(first["items"]) == 2
    token = first["metadata"]["continue"]
    assert raw.request("GET", f"/api/v1/pods?limit=2&continue={token}")[0] == 410
    assert raw.request("GET", f"/api/v1/pods?limit=2&continue={token}")[0] == 200
    assert demo.faults() == []
