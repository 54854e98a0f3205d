"""Schemathesis against the whole /api/v1 schema with every check: no request it generates
causes a 5xx, every answer's status code, content type and body are the ones the schema
documents, requests that break the schema are refused, and requests that keep it are
accepted, except where POSITIVE_DATA_REFUSED_BY_RULE names the rule and the only fields
its refusal may name.

The schema is loaded from the running app with a real token, so every endpoint added to
the router is checked automatically. Bounded: a few derandomized examples per operation
and generation mode, so the run is the same every time and takes about a minute.
"""

import json
from dataclasses import dataclass

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
from schemathesis.openapi.checks import RejectedPositiveData

from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db

EXAMPLES = 5
GENERATION_MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass(frozen=True)
class Rule:
    """Why an operation may refuse a schema-valid request: the rule in words, and the only
    fields (error keys of the 400 body) the refusal may name. A refusal naming any other
    field, or answering another status, still fails `positive_data_acceptance`."""

    reason: str
    fields: frozenset[str]
    statuses: frozenset[int] = frozenset({400})


def rule(reason: str, *fields: str, statuses: tuple[int, ...] = (400,)) -> Rule:
    return Rule(reason, frozenset(fields), frozenset(statuses))


# Operations whose schema-valid requests may still be refused for a rule OpenAPI cannot
# express. Each refusal is confirmed against its rule by `refused_only_by_rule`.
CROSS_FIELD = (
    "max_duration_min",
    "window_end",
    "site_envelope_primacy",  # a CSIP-AUS profile's only
    "__all__",
    "non_field_errors",
)
POSITIVE_DATA_REFUSED_BY_RULE = {
    "POST /api/v1/auth/token/": rule(
        "the username and password must be a real user's; guessers are locked out",
        "non_field_errors",
        "username",
        statuses=(400, 429),
    ),
    "POST /api/v1/brands/": rule("a brand's name is unique in the utility", "__all__"),
    "PUT /api/v1/brands/{id}/": rule("a brand's name is unique in the utility", "__all__"),
    "POST /api/v1/connector-sites/": rule("`device` must be one of the caller's", "device"),
    "POST /api/v1/curves/": rule(
        "`program` must be the caller's; y's unit depends on the curve type",
        "program",
        "points",
        "non_field_errors",
    ),
    "POST /api/v1/dispatch-groups/": rule(
        "`program` must be the caller's; a group's name is unique in its program",
        "program",
        "non_field_errors",
    ),
    "PUT /api/v1/dispatch-groups/{id}/": rule(
        "`program` must be the caller's; a group's name is unique in its program",
        "program",
        "non_field_errors",
    ),
    "POST /api/v1/enrollments/bulk/": rule(
        "`ids` must be the caller's decidable enrollments; a rejection needs a reason",
        "ids",
        "detail",
    ),
    "POST /api/v1/enrollments/import-accounts/": rule(
        "the file must be a UTF-8 CSV with the account columns", "errors"
    ),
    "POST /api/v1/events/": rule(
        "`group` and any curve must be the caller's, and the program's rules must allow it",
        "group",
        "op_mod_volt_var",
        "op_mod_volt_watt",
        "op_mod_freq_watt",
        "op_mod_watt_pf",
        "op_mod_watt_var",
        "non_field_errors",
    ),
    "POST /api/v1/programs/": rule(
        "cross-field rules (a window ends after it starts, caps, notice, site envelopes in"
        " CSIP-AUS only); a unique slug",
        *CROSS_FIELD,
    ),
    "PUT /api/v1/programs/{id}/": rule(
        "cross-field rules (a window ends after it starts, caps, notice, site envelopes in"
        " CSIP-AUS only); a unique slug",
        *CROSS_FIELD,
    ),
    "POST /api/v1/programs/{program_id}/site-envelopes/": rule(
        "the program must publish site envelopes (a CSIP-AUS site envelope primacy); each"
        " row's NMI, interval and limits follow the envelope rules, without overlaps",
        "detail",
        "rows",
    ),
    "POST /api/v1/sep2/clients/": rule(
        "`program` must be the caller's; `certificate` a PEM certificate from a trusted CA",
        "program",
        "certificate",
    ),
    "POST /api/v1/sep2/clients/issue/": rule(
        "`program` must be the caller's; `csr` a PEM certificate signing request",
        "program",
        "non_field_errors",
    ),
    "POST /api/v1/sep2/end-devices/": rule(
        "`client` must be the caller's; the SFDI follows the LFDI", "client", "sfdi"
    ),
    "POST /api/v1/territory/": rule("an area is part of the territory once", "__all__"),
    # The caller is a utility user: it has no vendor applications to run.
    "POST /api/v1/vendor/runs/": rule(
        "`application` must be the caller's vendor organization's", "application"
    ),
}


def refused_only_by_rule(ctx, response, case):
    """`positive_data_acceptance`, except where the operation's Rule explains the refusal:
    a listed status, and a JSON body naming only the rule's fields. A refusal it does not
    explain fails with the body, so the report says what was refused and why."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        known = POSITIVE_DATA_REFUSED_BY_RULE.get(case.operation.label)
        fields = set(_error_fields(response))
        if known is not None and response.status_code in known.statuses:
            if response.status_code != 400 or fields <= known.fields:
                return None
        body = response.content[:300].decode(errors="replace")
        raise AssertionError(
            f"a schema-valid request was refused with {response.status_code}: {body}"
            f" (sent {case.body!r:.300})"
        ) from None


def _error_fields(response) -> list[str]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return ["<not JSON>"]
    return list(body) if isinstance(body, dict) else ["<not an object>"]


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
            case.call_and_validate(
                headers=headers,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[refused_only_by_rule],
            )
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
