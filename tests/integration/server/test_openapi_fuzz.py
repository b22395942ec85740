"""Schemathesis against the served OpenAPI document: no input makes a 5xx.

Driven through hypothesis directly (the schemathesis pytest plugin does not load under
this pytest), one bounded run per operation.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from .conftest import ServerProcess


def test_no_request_makes_a_server_error(server: ServerProcess) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            response = case.call_and_validate(checks=[not_a_server_error])
            statuses.append(response.status_code)

        run()
    assert any(s == 200 for s in statuses) and any(s == 400 for s in statuses)
    assert len(statuses) >= 100
