"""Schemathesis against the whole /api/v1 schema: no request it generates may cause a 5xx.

The schema is loaded from the running app with a real token, so every endpoint added to
the router is fuzzed automatically.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework.authtoken.models import Token

from tenancy.choices import Role
from tests import factories

pytestmark = pytest.mark.django_db


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


def test_no_generated_request_causes_a_server_error(api_token, wsgi_app):
    app = wsgi_app
    headers = {"Authorization": f"Token {api_token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", app, headers=headers)
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 20, "the schema should describe the whole API"
    failures = []
    for operation in operations:
        fuzz(operation, headers, failures)
    assert not failures, failures


def fuzz(operation, headers, failures) -> None:
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append((operation.label, response.status_code, response.text[:300]))

    run()
