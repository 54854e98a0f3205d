"""A database migrated on the main before the house plan migrates forward with every row intact.

The test rewinds the schema to the migrations that main had before tenancy (and later the
vendors app) moved out, writes rows with the models of that time, then migrates forward and
reads them back through today's models.
"""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from devices.models import Device
from programs.models import DefaultControl, Event, Program
from tenancy.models import Brand, Membership, TerritoryArea, Utility
from vendors.models import ProductModel, VendorApplication, VendorMembership, VendorOrganization

# The leaf migrations of main at 47e3825, the last commit before the house plan.
OLD_MAIN = [
    ("portal", "0003_constraint_messages"),
    ("programs", "0002_constraint_messages"),
    ("enrollment", "0006_conformance_run_parameters"),
    ("protocol", "0003_client_outage_and_six_digit_pin"),
    ("devices", "0007_device_list_search_indexes"),
    ("settlement", "0001_settlement_rules_results_payments"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_old_main_database_migrates_forward_with_rows_intact():
    old = _migrate(OLD_MAIN)
    user = old.get_model("auth", "User").objects.create(username="pm", email="pm@old.example")
    utility = old.get_model("portal", "Utility").objects.create(name="Old Power", slug="old")
    old.get_model("portal", "Brand").objects.create(utility=utility, name="Old OR", states="OR")
    old.get_model("portal", "TerritoryArea").objects.create(utility=utility, state="OR")
    old.get_model("portal", "Membership").objects.create(
        utility=utility, user=user, role="program_manager"
    )
    program = old.get_model("programs", "Program").objects.create(
        utility=utility, name="BYOB", slug="byob", default_export_limit_w=4000
    )
    group = old.get_model("programs", "DispatchGroup").objects.create(
        utility=utility, program=program, name="All", mrid="F" * 32
    )
    limit = old.get_model("programs", "Event").objects.create(
        utility=utility,
        program=program,
        group=group,
        mrid="E" * 32,
        kind="export_limit",
        start=datetime(2026, 7, 1, 18, tzinfo=UTC),
        duration_s=600,
        target_w=1500,
    )
    old.get_model("devices", "Device").objects.create(
        utility=utility, serial="OLD-1", max_charge_w=5000, max_discharge_w=5000
    )
    vendor_user = old.get_model("auth", "User").objects.create(
        username="eng", email="eng@vendor.example"
    )
    org = old.get_model("enrollment", "VendorOrganization").objects.create(
        name="Old Batteries", slug="old-batteries", status="approved"
    )
    membership = old.get_model("enrollment", "VendorMembership").objects.create(
        organization=org, user=vendor_user, role="admin"
    )
    product = old.get_model("enrollment", "ProductModel").objects.create(
        organization=org, vendor_name="Old", model_name="B1", power_kw=5, energy_kwh=13.5
    )
    application = old.get_model("enrollment", "VendorApplication").objects.create(
        utility=utility, organization=org, program=program, status="submitted"
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved = Utility.objects.get(slug="old")
    assert moved.pk == utility.pk
    assert list(Brand.objects.for_utility(moved).values_list("name", flat=True)) == ["Old OR"]
    assert TerritoryArea.objects.for_utility(moved).get().state == "OR"
    assert Membership.objects.for_utility(moved).get().user.email == "pm@old.example"
    assert Program.objects.select_related("utility").get(slug="byob").utility == moved
    # The export limits moved into the control base (issue 17).
    assert DefaultControl.objects.get(group_id=group.pk).op_mod_exp_lim_w == 4000
    assert (
        Event.objects.get(pk=limit.pk).op_mod_exp_lim_w,
        Event.objects.get(pk=limit.pk).target_w,
    ) == (1500, None)
    assert Device.objects.for_utility(moved).get().serial == "OLD-1"
    assert VendorOrganization.objects.get(pk=org.pk).name == "Old Batteries"
    assert VendorMembership.objects.get(pk=membership.pk).user.email == "eng@vendor.example"
    assert ProductModel.objects.get(pk=product.pk).organization_id == org.pk
    moved_application = VendorApplication.objects.for_utility(moved).get(pk=application.pk)
    assert (moved_application.organization_id, moved_application.program.slug) == (org.pk, "byob")
    assert VendorOrganization.objects.create(name="New", slug="new").pk > org.pk
    # New rows still get fresh keys after the tables were renamed (sequences kept up).
    assert Utility.objects.create(name="New Power", slug="new").pk > moved.pk
