"""The Python face under valid and broken requests for every operation: a request either succeeds
with an AWS-shaped response or raises a ServiceError with an AWS code and message; nothing else
escapes, and a refused create leaves no row in the store."""

from __future__ import annotations

from typing import Any

import pytest
from fuzz.shaped import (
    CREATES,
    FUZZ,
    OPERATIONS,
    check_error,
    check_response,
    request,
    settled,
)
from hypothesis import given, settings
from sqlalchemy import func, select

import hpjobs
from hpjobs.api import snake_case
from hpjobs.errors import ServiceError
from hpjobs.store import CustomizationJob, CustomModel, TrainingJob, TuningJob, get_store

#: Examples per operation: creates and generation cost more than reads.
EXAMPLES = {"CreateTrainingJob": 40, "CreateHyperParameterTuningJob": 40}
DEFAULT_EXAMPLES = 25
STREAMS = {"ConverseStream": "stream", "InvokeModelWithResponseStream": "body"}


def rows() -> dict[str, int]:
    """How many rows each table of jobs and models holds."""
    with get_store().read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (TrainingJob, TuningJob, CustomizationJob, CustomModel)
        }


def call(service: str, name: str, given_request: dict[str, Any]) -> dict[str, Any]:
    """The request through ``hpjobs.client``, with a streamed answer read to its end."""
    response: dict[str, Any] = getattr(hpjobs.client(service), snake_case(name))(**given_request)
    member = STREAMS.get(name)
    if member is not None and member in response:
        response[member] = list(response[member])  # errors while streaming count too
    elif name == "InvokeModel" and "body" in response:
        response["body"].read()
    return response


@pytest.mark.parametrize(("service", "name"), OPERATIONS, ids=[op for _, op in OPERATIONS])
def test_every_operation_answers_in_aws_terms(service: str, name: str) -> None:
    accepted: list[Any] = []
    refused: dict[str, int] = {}

    @settings(FUZZ, max_examples=EXAMPLES.get(name, DEFAULT_EXAMPLES))
    @given(request(service, name))
    def answers(given_request: Any) -> None:
        if not isinstance(given_request, dict):
            return  # not keyword arguments: test_fuzz_found sends such requests to every operation
        before = rows() if (service, name) in CREATES else None
        try:
            response = call(service, name, given_request)
        except ServiceError as error:
            check_error(error)
            refused[error.code] = refused.get(error.code, 0) + 1
            if before is not None:
                assert rows() == before, f"a refused {name} left a row: {error}"
            return
        check_response(service, name, response)
        accepted.append(given_request)

    with settled():
        answers()
    assert refused, f"no request of {name} was refused: the broken ones should be"
