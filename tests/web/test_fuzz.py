"""Property-based fuzzing of every /api operation from the app's own OpenAPI schema (schemathesis)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode

from assistant.config import Settings
from assistant.operators import open_operator_store
from assistant.web.admin_api import router as admin_api_router
from assistant.web.api import router as api_router
from assistant.web.app import create_app

TOKEN = ""  # the operator token api_schema makes


def _api_operations() -> list[tuple[str, str, bool]]:
    """Every (method, path, takes input) of the JSON API, read from a bare app with the same router at
    collection time: a new endpoint is fuzzed without touching this file."""
    bare = FastAPI()
    bare.include_router(api_router)
    bare.include_router(admin_api_router)
    return [
        (method.upper(), path, bool(spec.get("parameters") or spec.get("requestBody")))
        for path, item in bare.openapi()["paths"].items()
        for method, spec in item.items()
    ]


# Invalid input is generated only where there is input to break (GET /api/health takes none).
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path, takes_input in _api_operations()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if takes_input or mode is GenerationMode.POSITIVE
]

# What the schema promises and the fuzzer checks: no 5xx; only documented status codes; the documented
# content type; bodies (4xx included) of the documented shape. Not 'positive_data_acceptance': the schema
# carries fixed outer bounds, while the limits that apply (question length, history, k) are settings of
# the running server, and a blank question is refused though it is a string; the messages for those are
# tested one by one in test_hostile_input.py.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(
    fixture_release: Settings, tmp_path_factory: pytest.TempPathFactory
) -> schemathesis.BaseSchema:
    # An operator's token, also set as the admin token, so that the authenticated routes (GET
    # /api/feedback, /api/admin/…) answer with data, not just 401/403; a private database, index copy and
    # upload folder, so that fuzzed feedback, uploads and builds land in a temp dir; no rate limit, so that
    # every generated request reaches the app instead of a 429 (tests/web/test_ratelimit.py tests it).
    folder = tmp_path_factory.mktemp("fuzz")
    database: Path = folder / "assistant.sqlite3"
    shutil.copytree(fixture_release.index_dir, folder / "index")
    settings = fixture_release.model_copy(
        update={
            "database": database,
            "rate_limit_per_minute": 0,
            "index_dir": folder / "index",
            "upload_dir": folder / "uploads",
        }
    )
    operators = open_operator_store(settings)
    operators.add_operator("fuzz", "fuzz-passwort-1234")
    global TOKEN
    TOKEN = operators.new_token("fuzz")
    app = create_app(settings.model_copy(update={"admin_token": SecretStr(TOKEN)}))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_every_api_operation_is_in_the_served_schema(api_schema: schemathesis.BaseSchema) -> None:
    served = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert served == {(method, path) for method, path, _ in _api_operations()}


# schemathesis.pytest.from_fixture does not run under pytest 9 (it reads Function._nodeid), so each
# operation is a plain parametrized test that runs its own hypothesis loop over the operation's strategy.
@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_api_never_fails_on_generated_input(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=50,
        deadline=None,
        derandomize=True,  # the same examples on every run, so CI is reproducible
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

    check()
