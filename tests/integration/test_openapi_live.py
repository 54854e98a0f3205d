"""Schemathesis against the running demo (issue 17: "schemathesis run --checks all against
the running demo reports none"): `seed_demo`'s data, the portal listener started with
`make run`'s own command line, and requests over real HTTP with the demo program manager's
token. tests/portal/test_openapi_fuzz.py runs the same checks in-process over an empty
utility, with more examples; this run finds what only the served app and the demo's data
show (answers rendered by the real server, the demo's programs, groups and devices).

Bounded: a few derandomized examples per operation and generation mode.
"""

import json

import pytest
import schemathesis
from django.core.management import call_command

from tests.integration.servers import asgi_server, subprocess_env
from tests.portal import test_openapi_fuzz as fuzz

pytestmark = [
    pytest.mark.integration,
    pytest.mark.production_stack,
    pytest.mark.django_db(transaction=True),
]

EXAMPLES = 2


def test_the_running_demo_answers_as_its_schema_documents(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    credentials = json.loads((tmp_path / "demo" / "credentials.json").read_text())
    token = credentials["utilities"]["cascadia"]["api_token"]
    headers = {"Authorization": f"Token {token}"}
    with asgi_server(subprocess_env(tmp_path), tmp_path / "asgi.log") as base:
        schema = schemathesis.openapi.from_url(
            f"{base}/api/v1/schema/?format=json", headers=headers
        )
        operations = [op.ok() for op in schema.get_all_operations()]
        assert len(operations) >= 20, "the served schema should describe the whole API"
        failures: list[tuple[str, str, str]] = []
        for operation in operations:
            for mode in fuzz.GENERATION_MODES:
                fuzz.check(operation, mode, headers, failures, examples=EXAMPLES)
    assert not failures, "\n".join(" | ".join(failure) for failure in failures)
