"""The API against its own OpenAPI document, fuzzed by schemathesis (issue 13: "the OpenAPI document tells the
truth"): schema-valid and schema-invalid requests to every operation, then stateful sequences that follow the
links schemathesis finds (a run's Location to its GET and approval, a thread's id to its approval).

Bounded (a fixed number of examples, derandomized, no example database), and it must find nothing. Excluded:
`positive_data_acceptance` (a request can be schema-valid yet name a block the yard does not hold: that is a
correct 422 the schema cannot know of), and the event stream (Server-Sent Events, which stays open while a run is
held; schemathesis cannot read a stream).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.service.conftest import Api

pytestmark = pytest.mark.slow

SKIPPED_CHECKS = [schemathesis.checks.positive_data_acceptance]
BOUNDED = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def _schema(api: Api) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    return schema.exclude(path_regex=r"/events$")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_its_schema_says(api: Api, mode: GenerationMode) -> None:
    failures: list[str] = []
    calls: Counter[str] = Counter()
    for found in _schema(api).get_all_operations():
        operation = found.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @BOUNDED
        def call(case: Any) -> None:
            response = case.call_and_validate(headers=api.auth(), excluded_checks=SKIPPED_CHECKS)
            calls[str(response.status_code)] += 1

        try:
            call()
        except Unsatisfiable:  # an operation with nothing to get wrong (GET /healthz in negative mode)
            continue
        except BaseException as exc:  # schemathesis reports its findings as an exception group
            failures.append(f"{operation.label}: {exc}")
    print(f"{mode.value}: {sum(calls.values())} calls, statuses {dict(calls)}")
    assert not failures, "\n\n".join(failures)
    assert sum(calls.values()) > 50


def test_stateful_sequences_find_nothing(api: Api) -> None:
    headers = api.auth()
    steps: Counter[str] = Counter()

    class Sequences(_schema(api).as_state_machine()):  # type: ignore[misc]  # a class schemathesis builds at run time
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            steps[f"{case.method} {case.path}"] += 1
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=SKIPPED_CHECKS,
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),
            )

    Sequences.run(settings=settings(BOUNDED, max_examples=15, stateful_step_count=6))
    print(f"stateful: {sum(steps.values())} steps: {dict(steps.most_common())}")
    assert sum(steps.values()) > 50 and len(steps) >= 5
