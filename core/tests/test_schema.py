"""The OpenAPI schema documents the errors every API view answers (core/schema.py), in the shape it answers them."""

from __future__ import annotations

import pytest


@pytest.fixture
def schema(api):
    return api.get("/api/schema/?format=json").json()


def test_every_operation_documents_401_403_and_404_and_400_where_it_takes_input(schema):
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = set(operation["responses"])
            assert {"401", "403"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            takes_input = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
            if takes_input:
                assert "400" in codes, (method, path)
            checked += 1
    assert checked >= 40


def test_the_documented_error_bodies_are_the_ones_answered(schema, api, viewer_api):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"] and error["properties"]["detail"]["type"] == "string"
    refused = viewer_api.post("/api/v1/clusters/", {"name": "x"}, format="json")
    assert refused.status_code == 403 and isinstance(refused.json()["detail"], str)
    missing = api.get("/api/v1/clusters/999999/")
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
    bad = api.post("/api/v1/windows/", {"cluster": "nope"}, format="json")
    assert bad.status_code == 400 and isinstance(bad.json()["cluster"], list)
    field_errors = schema["paths"]["/api/v1/windows/"]["post"]["responses"]["400"]["content"]["application/json"]
    assert field_errors["schema"]["type"] == "object"


def test_a_request_body_that_refuses_unknown_fields_says_so(schema, api):
    components = schema["components"]["schemas"]
    for name in ["EvictionRequestCreateRequest", "TargetRequest", "ClusterCreateRequest", "MaintenanceWindowRequest"]:
        assert components[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in components["Cluster"]  # answers are not constrained
    refused = api.post("/api/v1/clusters/", {"name": "x", "colour": "blue"}, format="json")
    assert refused.status_code == 400 and refused.json()["colour"] == ["Unknown field."]
