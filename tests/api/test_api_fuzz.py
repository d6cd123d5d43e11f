"""A fuzz pass over the API from its own OpenAPI document (schemathesis): no input, however
odd, gets a 5xx, and every answer matches the documented status codes and schemas.

The server runs without a worker: generated documents are valid jobs whose commands are
random text, and they must not be executed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .api_support import LiveServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzzed_server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "data", with_worker=False, max_body=64 * 1024) as live:
        yield live


@pytest.mark.timeout(600)
def test_no_input_breaks_the_api(fuzzed_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 21
    # The live job list answers any valid query with a stream that ends only when the
    # server stops: a call would never return. test_api_web_routes covers it.
    operations = [op for op in operations if op.path != "/jobs/stream"]

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=100,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case) -> None:
            case.call_and_validate(base_url=fuzzed_server.url, checks=CHECKS)

        fuzz()
