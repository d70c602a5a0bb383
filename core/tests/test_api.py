"""API-wide behaviour (core/api.py): a path under /api/ that no route matches is a JSON 404."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def strict_client(alice):
    """Signed in by session and checking CSRF, as a browser is: the HTML 403 of a refused check must not answer."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/requests/abc/"),
        ("get", "/api/v1/clusters/2.5e-23/"),
        ("get", "/api/v1/requests/%0A/"),
        ("post", "/api/v1/requests/abc/approve/"),
        ("patch", "/api/v1/windows/x/"),
        ("delete", "/api/v1/policies/nope/"),
        ("get", "/api/v1/no-such-thing/"),
    ],
)
def test_an_api_path_no_route_matches_is_a_json_404(strict_client, method, url):
    response = getattr(strict_client, method)(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No such API route."}


def test_the_real_routes_still_answer(api):
    assert api.get("/api/v1/clusters/").status_code == 200
    assert api.get("/api/schema/").status_code == 200


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("/api/docs", "/api/docs/"),
        ("/api/schema", "/api/schema/"),
        ("/api/v1/requests", "/api/v1/requests/"),
        ("/api/v1/requests?status=running", "/api/v1/requests/?status=running"),
    ],
)
def test_an_api_route_without_its_slash_is_redirected_to_it(api, url, location):
    response = api.get(url)
    assert response.status_code == 301
    assert response["Location"] == location


def test_a_post_without_the_slash_is_told_the_route_instead_of_losing_its_body(api):
    response = api.post("/api/v1/requests", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such API route: the route is /api/v1/requests/ (with the slash)."}


def test_a_path_without_a_slash_that_is_no_route_either_is_the_plain_json_404(api):
    response = api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such API route."}
