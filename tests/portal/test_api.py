import re

import pytest
from rest_framework.test import APIClient

from tenancy.choices import Role
from tenancy.models import Brand, Membership
from tests import factories
from tests.conftest import api_client_for

pytestmark = pytest.mark.django_db


def test_api_requires_authentication(db):
    response = APIClient().get("/api/v1/brands/")
    assert response.status_code == 401


def test_schema_answers_with_a_token(api_a):
    response = api_a.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"openapi" in response.content
    assert b"/api/v1/brands/" in response.content


def test_docs_page_is_served_without_a_cdn(client_a):
    response = client_a.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg" not in html


def test_me_reports_memberships_and_active_utility(api_a, utility_a):
    body = api_a.get("/api/v1/me/").json()
    assert body["active_utility"] == "alpha"
    assert body["memberships"] == [{"utility": "alpha", "role": Role.PROGRAM_MANAGER}]


def test_brand_crud_is_scoped_to_the_callers_utility(api_a, utility_a, utility_b):
    factories.brand(utility_b, "OTHER")
    created = api_a.post("/api/v1/brands/", {"name": "Alpha South", "states": "CA"})
    assert created.status_code == 201, created.content
    assert Brand.objects.get(pk=created.json()["id"]).utility == utility_a
    listing = api_a.get("/api/v1/brands/").json()
    assert [row["name"] for row in listing["results"]] == ["Alpha South"]
    assert listing["count"] == 1


def test_utility_header_selects_among_own_utilities_only(utility_a, utility_b, manager_a):
    Membership.objects.create(utility=utility_b, user=manager_a, role=Role.ANALYST)
    api = api_client_for(manager_a)
    assert (
        api.get("/api/v1/me/", HTTP_X_RESERVOIR_UTILITY="bravo").json()["active_utility"] == "bravo"
    )
    # As an analyst at bravo the same user may read but not write there.
    refused = api.post(
        "/api/v1/brands/", {"name": "Nope"}, HTTP_X_RESERVOIR_UTILITY="bravo", format="json"
    )
    assert refused.status_code == 403
    assert not Brand.objects.filter(name="Nope").exists()


def test_forged_utility_header_fails_closed(api_a, utility_b):
    factories.brand(utility_b, "OTHER")
    response = api_a.get("/api/v1/brands/", HTTP_X_RESERVOIR_UTILITY="bravo")
    assert response.status_code == 403
    assert b"OTHER" not in response.content


def test_analyst_token_cannot_write(utility_a):
    analyst = factories.member(utility_a, Role.ANALYST)
    api = api_client_for(analyst)
    assert api.get("/api/v1/brands/").status_code == 200
    assert api.post("/api/v1/brands/", {"name": "X"}).status_code == 403
    assert not Brand.objects.exists()


def test_bad_input_is_a_clear_400_and_changes_nothing(api_a):
    response = api_a.post("/api/v1/territory/", {"state": "Oregon", "zip_prefix": "97x"})
    assert response.status_code == 400
    body = response.json()
    assert "state" in body and "zip_prefix" in body
    api_a.post("/api/v1/territory/", {"state": "OR", "zip_prefix": "97"})
    dup = api_a.post("/api/v1/territory/", {"state": "or", "zip_prefix": "97"})
    assert dup.status_code == 400
    assert "already part of the territory" in dup.content.decode()


def test_paging_numbers_are_bounded(api_a, utility_a):
    factories.brand(utility_a)
    huge = 2**70
    response = api_a.get(f"/api/v1/brands/?limit={huge}&offset={huge}")
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert len(api_a.get("/api/v1/brands/?limit=5000").json()["results"]) == 1


def test_query_parameters_outside_the_schema_are_refused(api_a, utility_a):
    for query in ("limit=abc", "offset=-1", "limit="):
        response = api_a.get(f"/api/v1/brands/?{query}")
        assert response.status_code == 400, query
    assert api_a.get("/api/v1/alerts/?status=bogus").status_code == 400
    assert api_a.get("/api/v1/events/?status=bogus").status_code == 400
    assert api_a.get("/api/v1/devices/?health=bogus").status_code == 400
    assert api_a.get("/api/v1/alerts/?status=open").status_code == 200
    assert api_a.get("/api/v1/brands/?limit=1&offset=0").status_code == 200


def test_an_unknown_api_path_answers_json_404(api_a):
    response = api_a.get("/api/v1/curves/a.b/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_a_name_longer_than_its_maximum_is_refused_even_if_only_by_its_spaces(api_a, utility_a):
    limit = Brand._meta.get_field("name").max_length
    response = api_a.post(
        "/api/v1/brands/", {"name": " " + "x" * limit, "states": "CA"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "name" in response.json()
    assert not Brand.objects.for_utility(utility_a).exists()
    # At the limit, surrounding spaces are trimmed as before.
    ok = api_a.post("/api/v1/brands/", {"name": " Alpha ", "states": "CA"}, format="json")
    assert ok.status_code == 201 and ok.json()["name"] == "Alpha"


def test_a_body_of_a_media_type_the_operation_does_not_read_is_documented_415(api_a):
    schema = api_a.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/enrollments/import-accounts/"]["post"]
    assert "415" in operation["responses"]
    response = api_a.post("/api/v1/enrollments/import-accounts/", {"file": "x"}, format="json")
    assert response.status_code == 415


def test_request_bodies_are_json_except_the_file_upload(api_a, utility_a):
    """Form encodings cannot carry null or nested values (a curve's points, an optional
    limit left empty), so documenting them promised requests the API then refused."""
    schema = api_a.get("/api/v1/schema/?format=json").json()
    media_types = {
        (path, method): set(operation["requestBody"]["content"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "requestBody" in operation
    }
    upload = ("/api/v1/enrollments/import-accounts/", "post")
    assert media_types.pop(upload) == {"multipart/form-data"}
    assert media_types, "the schema should document request bodies"
    assert {frozenset(types) for types in media_types.values()} == {frozenset({"application/json"})}
    form = api_a.post("/api/v1/brands/", {"name": "Alpha", "states": "CA"}, format="multipart")
    assert form.status_code == 415
    assert not Brand.objects.for_utility(utility_a).exists()


def test_a_power_factor_outside_0_to_1_breaks_the_schema_as_it_breaks_the_api(api_a):
    """The PF modes are decimals between 0 and 1; a decimal sent as a string cannot carry
    a minimum or maximum, so the schema's pattern has to say it."""
    components = api_a.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    for component in ("EventRequest", "DefaultControlRequest"):
        for field in ("op_mod_fixed_pf_inject_w", "op_mod_fixed_pf_absorb_w"):
            pattern = re.compile(components[component]["properties"][field]["pattern"])
            for accepted in ("0", "1", "0.9", "1.000", ".85", "0.123"):
                assert pattern.search(accepted), (component, field, accepted)
            for refused in ("9.5", "1.001", "-0.5", "2", "0.1234"):
                assert not pattern.search(refused), (component, field, refused)


def test_text_fields_document_that_they_refuse_null_characters(api_a):
    """DRF refuses a NUL in any text field (PostgreSQL cannot store one), so the schema
    says it: schemathesis sent a program name with a NUL, valid by the schema, refused."""
    components = api_a.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    for component, field in (("ProgramRequest", "name"), ("BrandRequest", "name")):
        pattern = re.compile(components[component]["properties"][field]["pattern"])
        assert pattern.search("Summer Peak \u00e9")
        assert not pattern.search("Summer\x00Peak")
    form = api_a.post("/api/v1/brands/", {"name": "A\x00B", "states": "CA"})
    assert form.status_code == 400 and "name" in form.json()


def test_a_number_where_the_schema_says_text_is_refused(api_a, utility_a):
    response = api_a.post("/api/v1/brands/", {"name": 5.5, "states": 7})
    assert response.status_code == 400
    assert set(response.json()) == {"name", "states"}
    assert not Brand.objects.for_utility(utility_a).exists()
