"""The history filters and cursor pages of GET /api/v1/requests/ and GET /api/v1/evictions/."""

from __future__ import annotations

import pytest

from evictions.tests.test_history import POD_CASES, REQUEST_CASES, T0, make_pod, make_request, world  # noqa: F401
from tests.factories import ClusterFactory, UserFactory

REQUESTS = "/api/v1/requests/"
EVICTIONS = "/api/v1/evictions/"


def _query(world, given) -> dict[str, str]:  # noqa: F811
    query = {k: str(v) for k, v in given.items()}
    if "cluster" in given:
        query["cluster"] = str(world[given["cluster"]])
    return query


@pytest.mark.parametrize(("given", "expected"), REQUEST_CASES)
def test_requests_api_filters(world, viewer_api, given, expected):  # noqa: F811
    response = viewer_api.get(REQUESTS, _query(world, given))
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [world[name] for name in expected]


@pytest.mark.parametrize(("given", "expected"), POD_CASES)
def test_evictions_api_filters(world, viewer_api, given, expected):  # noqa: F811
    response = viewer_api.get(EVICTIONS, _query(world, given))
    assert response.status_code == 200, response.content
    assert {row["id"] for row in response.json()["results"]} == {world[name] for name in expected}


def test_evictions_api_rows_name_their_request_cluster_and_answer(world, viewer_api):  # noqa: F811
    rows = viewer_api.get(EVICTIONS, {"sort": "slowest"}).json()["results"]
    assert [r["id"] for r in rows] == [world["web"], world["db"]]
    assert rows[0]["request"] == world["drain"] and rows[0]["cluster_name"] == "prod"
    assert rows[0]["requester"] == "rita" and rows[0]["seconds_to_evict"] == 12.5
    assert "attempts" not in rows[0]


@pytest.mark.parametrize("url", [REQUESTS, EVICTIONS])
def test_api_cursor_pages_forward_and_back(db, viewer_api, url):
    rita = UserFactory(username="rita")
    cluster = ClusterFactory()
    for n in range(7):
        request = make_request(cluster, rita, created=T0)  # all at the same instant: the id breaks ties
        make_pod(request, f"web-{n}", created=T0)
    first = viewer_api.get(url, {"limit": 3}).json()
    assert first["previous"] is None and "cursor=" in first["next"]
    second = viewer_api.get(first["next"]).json()
    third = viewer_api.get(second["next"]).json()
    assert third["next"] is None and len(third["results"]) == 1
    ids = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7
    back = viewer_api.get(second["previous"]).json()
    assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
    assert "limit=3" in second["next"]


@pytest.mark.parametrize("url", [REQUESTS, EVICTIONS])
@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "bm90LW91cnM"}, "cursor"),
        ({"answer": "abc"}, "answer"),
        ({"answer": "42"}, "answer"),
        ({"sort": "sideways"}, "sort"),
        ({"limit": "501"}, "limit"),
        ({"status": "bogus"}, "status"),
        ({"since": "2025-06-03", "until": "2025-06-01"}, "until"),
    ],
)
def test_a_bad_history_parameter_is_a_400_naming_it(world, viewer_api, url, query, field):  # noqa: F811
    response = viewer_api.get(url, query)
    assert response.status_code == 400
    assert field in response.json()


def test_a_cursor_of_one_sort_order_is_refused_by_another(world, viewer_api):  # noqa: F811
    cursor = viewer_api.get(EVICTIONS, {"limit": 1, "sort": "slowest"}).json()["next"].split("cursor=")[1]
    response = viewer_api.get(EVICTIONS, {"sort": "newest", "cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()


def test_evictions_api_has_no_offset_pages(world, viewer_api):  # noqa: F811
    assert viewer_api.get(EVICTIONS, {"offset": 1}).status_code == 400


def test_requests_api_keeps_the_offset_style_with_a_count(world, viewer_api):  # noqa: F811
    body = viewer_api.get(REQUESTS, {"limit": 1, "offset": 1, "sort": "oldest"}).json()
    assert body["count"] == 3 and [r["id"] for r in body["results"]] == [world["pods"]]


@pytest.mark.parametrize("count", [3, 30])
def test_evictions_api_makes_the_same_few_queries_however_many_rows(
    db, viewer_api, django_assert_max_num_queries, count
):
    rita = UserFactory(username="rita")
    cluster = ClusterFactory()
    for n in range(count):
        make_pod(make_request(cluster, rita, created=T0), f"web-{n}", created=T0)
    with django_assert_max_num_queries(4):
        assert len(viewer_api.get(EVICTIONS, {"pod": "web"}).json()["results"]) == count


@pytest.mark.parametrize(("url", "component"), [(REQUESTS, "RequestPage"), (EVICTIONS, "PodEvictionPage")])
def test_the_schema_of_a_history_list_is_the_page_it_answers(world, viewer_api, url, component):  # noqa: F811
    schema = viewer_api.get("/api/schema/?format=json").json()
    answer = schema["paths"][url]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": f"#/components/schemas/{component}"}  # not wrapped in an offset-pagination envelope
    page = schema["components"]["schemas"][component]
    body = viewer_api.get(url).json()
    assert set(page["required"]) == set(body) == {"next", "previous", "results"}
    if url == REQUESTS:  # the older offset style adds `count`, which the schema has as optional
        assert set(viewer_api.get(url, {"offset": 0}).json()) <= set(page["properties"])
