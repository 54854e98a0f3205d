"""Schemathesis against the whole /api/v1 schema with every check: no request it generates
causes a 5xx, every answer's status code, content type and body are the ones the schema
documents, requests that break the schema are refused, and requests that keep it are
accepted (with the narrow, explained exceptions in POSITIVE_DATA_REFUSED_BY_RULE).

The schema is loaded from the running app with a real token, so every endpoint added to
the router is checked automatically. Bounded: a few derandomized examples per operation
and generation mode, so the run is the same every time and takes about a minute.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db

EXAMPLES = 5
GENERATION_MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)

# Operations whose schema-valid requests may still be refused with a documented 400/404,
# for a rule OpenAPI cannot express. Only `positive_data_acceptance` is skipped for them;
# every other check still runs.
POSITIVE_DATA_REFUSED_BY_RULE = {
    "POST /api/v1/auth/token/": "the username and password must be a real user's",
    "POST /api/v1/brands/": "a brand's name is unique in the utility",
    "PUT /api/v1/brands/{id}/": "a brand's name is unique in the utility",
    "POST /api/v1/connector-sites/": "`device` must be one of the caller's devices",
    "POST /api/v1/curves/": "`program` must be the caller's; y's unit depends on the curve type",
    "POST /api/v1/dispatch-groups/": "`program` must be one of the caller's programs",
    "PUT /api/v1/dispatch-groups/{id}/": "`program` must be one of the caller's programs",
    "POST /api/v1/enrollments/bulk/": "`ids` must be the caller's decidable enrollments",
    "POST /api/v1/enrollments/import-accounts/": "the file must be a CSV with the account columns",
    "POST /api/v1/events/": "`group` must be the caller's, and the program's rules must allow it",
    "POST /api/v1/programs/": "cross-field rules (a window ends after it starts, caps, notice)",
    "PUT /api/v1/programs/{id}/": "cross-field rules (a window ends after it starts, caps, notice)",
    "POST /api/v1/sep2/clients/": "`certificate` must be a PEM certificate from a trusted CA",
    "POST /api/v1/sep2/clients/issue/": "`csr` must be a PEM certificate signing request",
    "POST /api/v1/sep2/end-devices/": "`client` must be the caller's; the SFDI follows the LFDI",
    # The caller is a utility user: it has no vendor applications to run.
    "POST /api/v1/vendor/runs/": "`application` must be the caller's vendor organization's",
}


@pytest.fixture
def wsgi_app():
    """The real WSGI app, minus closing the test's database connection after each request
    (Django's own test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_token(db):
    utility = factories.utility()
    for make in factories.TENANT_FACTORIES.values():
        make(utility)
    user = factories.member(utility, Role.PROGRAM_MANAGER)
    return Token.objects.create(user=user).key


def test_the_whole_api_answers_as_its_schema_documents(api_token, wsgi_app):
    headers = {"Authorization": f"Token {api_token}"}
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json", wsgi_app, headers=headers
    )
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 20, "the schema should describe the whole API"
    failures: list[tuple[str, str, str]] = []
    for operation in operations:
        for mode in GENERATION_MODES:
            check(operation, mode, headers, failures)
    assert not failures, "\n".join(" | ".join(failure) for failure in failures)


def check(operation, mode, headers, failures, examples: int = EXAMPLES) -> None:
    excluded = []
    if operation.label in POSITIVE_DATA_REFUSED_BY_RULE:
        excluded.append(positive_data_acceptance)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        try:
            case.call_and_validate(headers=headers, excluded_checks=excluded)
        except BaseExceptionGroup as group:
            for failure in group.exceptions:
                failures.append((operation.label, type(failure).__name__, str(failure)[:600]))
        except AssertionError as failure:
            failures.append((operation.label, type(failure).__name__, str(failure)[:600]))

    try:
        run()
    except Unsatisfiable:
        # Nothing in this operation's input can break its schema (no body, no typed
        # parameter): there is no negative request to make.
        assert mode is GenerationMode.NEGATIVE, operation.label
