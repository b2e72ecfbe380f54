"""schemathesis over the live routes of /openapi.json: generated requests (valid and invalid)
get no 5xx and bodies as documented."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance


def test_live_routes_have_no_server_errors(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if "/participants" not in operation.path:
            continue
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def check(case):
            case.call_and_validate(base_url=server.url, checks=[not_a_server_error, response_schema_conformance])

        check()
    assert {"POST /participants/{pcode}/records", "GET /participants/{pcode}/prediction",
            "DELETE /participants/{pcode}", "PUT /participants/{pcode}/profile"} <= set(labels)
