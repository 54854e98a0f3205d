"""Schemathesis on /api/v1/curves/ with every check but one: each answer's status code and
body are the ones the schema documents, and no request it generates causes a 5xx.

Left out: `positive_data_acceptance`. A schema cannot say that a program id must name one
of the caller's programs, or that a volt-var curve's y is a percent of vars; such requests
are valid by the schema and rightly refused with a documented 400.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import positive_data_acceptance

from tenancy.choices import Role
from tests import factories
from tests.portal.test_openapi_fuzz import wsgi_app  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def test_the_curve_endpoints_answer_as_documented(wsgi_app):  # noqa: F811
    utility = factories.utility()
    user = factories.member(utility, Role.PROGRAM_MANAGER)
    factories.curve(utility)
    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/?format=json", wsgi_app, headers=headers
    )
    operations = [op.ok() for op in schema.get_all_operations()]
    operations = [op for op in operations if op.path.startswith("/api/v1/curves/")]
    assert len(operations) == 6, [op.label for op in operations]
    failures: list[tuple[str, str]] = []
    for operation in operations:
        check(operation, headers, failures)
    assert not failures, failures


def check(operation, headers, failures) -> None:
    @settings(
        max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def run(case):
        try:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        except (AssertionError, ExceptionGroup) as failure:
            failures.append((operation.label, str(failure)[:800]))

    run()
