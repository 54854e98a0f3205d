"""The enrollment state machine: the happy path, recorded transitions, and refusals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from devices.services import Reading, device_register, telemetry_ingest
from enrollment import services
from enrollment.choices import EnrollmentState as S
from enrollment.models import Enrollment, EnrollmentTransition
from programs.models import Participant
from tests.enrollment.conftest import submit

pytestmark = pytest.mark.django_db


def register(setup, serial, **fields):
    return device_register(
        utility=setup.utility, vendor_name="Northwind", model_name="NW-13", serial=serial,
        max_charge_w=5000, max_discharge_w=5000, capacity_wh=13_500, **fields,
    )  # fmt: skip


def report(setup, device, *, soc=55.0, power=-800.0, at=None):
    at = at or timezone.now()
    result = telemetry_ingest(
        utility=setup.utility,
        readings=[
            Reading(device_id=device.pk, at=at, channel="soc_pct", value=soc),
            Reading(device_id=device.pk, at=at, channel="w", value=power),
        ],
        source="test",
    )
    assert not result.rejected, result.rejected


def test_approval_fixes_the_incentive_with_the_cap(setup):
    e = services.enrollment_approve(enrollment=submit(setup), actor=setup.manager)
    assert e.state == S.APPROVED
    assert e.incentive_upfront == Decimal("750.00")  # 5 kW x $150
    assert e.participation_credit_per_kw == Decimal("4.00")
    setup.rates.upfront_per_kw = Decimal("300")
    setup.rates.save()
    capped = services.enrollment_approve(enrollment=submit(setup), actor=setup.manager, reason="ok")
    assert capped.incentive_upfront == Decimal("1000.00")
    # Later rate changes never touch an approved enrollment.
    e.refresh_from_db()
    assert e.incentive_upfront == Decimal("750.00")


def test_full_path_to_active_through_the_telemetry_signal(
    setup, django_capture_on_commit_callbacks
):
    e = services.enrollment_approve(enrollment=submit(setup, serial="NW-77"), actor=setup.manager)
    assert e.state == S.APPROVED and e.device is None
    device = register(setup, "nw-77")
    with django_capture_on_commit_callbacks(execute=True):
        report(setup, device)
    e.refresh_from_db()
    assert e.state == S.ACTIVE
    assert e.device == device and e.activated_at is not None
    assert Participant.objects.filter(program=setup.program, device=device, left_at=None).exists()
    path = list(e.transitions.values_list("to_state", flat=True))
    assert path == [S.SUBMITTED, S.ELIGIBLE, S.APPROVED, S.DEVICE_LINKED,
                    S.TELEMETRY_VERIFIED, S.ACTIVE]  # fmt: skip
    approved = e.transitions.get(to_state=S.APPROVED)
    assert approved.actor == setup.manager and approved.from_state == S.ELIGIBLE


def test_an_existing_device_is_linked_at_approval(setup):
    device = register(setup, "NW-78")
    e = services.enrollment_approve(enrollment=submit(setup, serial="NW-78"), actor=setup.manager)
    assert e.state == S.DEVICE_LINKED and e.device == device  # no readings yet


def test_implausible_or_stale_telemetry_does_not_verify(setup, django_capture_on_commit_callbacks):
    e = services.enrollment_approve(enrollment=submit(setup, serial="NW-79"), actor=setup.manager)
    device = register(setup, "NW-79")
    with django_capture_on_commit_callbacks(execute=True):
        report(setup, device, power=-9000)  # beyond the 5000 W nameplate
    e.refresh_from_db()
    assert e.state == S.DEVICE_LINKED
    check = services.telemetry_check(enrollment=e, device=e.device, now=timezone.now())
    assert check.fresh and not check.plausible and "nameplate" in check.reason
    stale = services.telemetry_check(
        enrollment=e, device=e.device, now=timezone.now() + timedelta(hours=25)
    )
    assert not stale.fresh and "24 h" in stale.reason
    with django_capture_on_commit_callbacks(execute=True):
        report(setup, device, power=1200, at=timezone.now() + timedelta(seconds=1))
    e.refresh_from_db()
    assert e.state == S.ACTIVE


def test_telemetry_of_another_utility_links_nothing(
    setup, utility_b, django_capture_on_commit_callbacks
):
    e = services.enrollment_approve(enrollment=submit(setup, serial="NW-80"), actor=setup.manager)
    foreign = device_register(utility=utility_b, vendor_name="Northwind", model_name="NW-13",
                              serial="NW-80", max_discharge_w=5000)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        telemetry_ingest(
            utility=utility_b,
            readings=[Reading(device_id=foreign.pk, at=timezone.now(), channel="soc_pct", value=5)],
            source="test",
        )
    e.refresh_from_db()
    assert e.state == S.APPROVED and e.device is None


@pytest.mark.parametrize(
    ("step", "kwargs"),
    [
        (services.enrollment_approve, {"reason": ""}),
        (services.enrollment_reject, {"reason": "no"}),
    ],
)
def test_decisions_are_refused_from_the_wrong_state(setup, step, kwargs):
    e = services.enrollment_approve(enrollment=submit(setup), actor=setup.manager)
    with pytest.raises(services.IllegalTransition):
        step(enrollment=e, actor=setup.manager, **kwargs)
    e.refresh_from_db()
    assert e.state == S.APPROVED


def test_ineligible_cannot_be_approved_and_closed_cannot_reopen(setup):
    bad = submit(setup, zip_code="10001", state_code="NY")
    with pytest.raises(services.IllegalTransition):
        services.enrollment_approve(enrollment=bad, actor=setup.manager)
    withdrawn = services.enrollment_withdraw(enrollment=submit(setup), actor=None)
    for step in (services.enrollment_withdraw, services.enrollment_approve):
        with pytest.raises(services.IllegalTransition):
            step(enrollment=withdrawn, actor=setup.manager)
    with pytest.raises(services.IllegalTransition):
        services.enrollment_terminate(enrollment=submit(setup), actor=None, reason="x")
    with pytest.raises(services.IllegalTransition):
        services.enrollment_activate(enrollment=submit(setup))


def test_reject_and_terminate_need_a_reason(setup):
    e = submit(setup)
    with pytest.raises(ValidationError):
        services.enrollment_reject(enrollment=e, actor=setup.manager, reason="  ")
    rejected = services.enrollment_reject(enrollment=e, actor=setup.manager, reason="Roof permit")
    assert rejected.state == S.REJECTED and rejected.state_reason == "Roof permit"


def test_withdraw_and_terminate_remove_the_participant(setup):
    device = register(setup, "NW-81")
    report(setup, device)
    e = services.enrollment_approve(enrollment=submit(setup, serial="NW-81"), actor=setup.manager)
    assert e.state == S.ACTIVE
    services.enrollment_withdraw(enrollment=e, actor=None)
    assert not Participant.objects.filter(device=device, left_at=None).exists()
    e2 = services.enrollment_approve(enrollment=submit(setup, serial="NW-81"), actor=setup.manager)
    assert e2.state == S.ACTIVE
    services.enrollment_terminate(enrollment=e2, actor=setup.manager, reason="Device removed")
    e2.refresh_from_db()
    assert e2.state == S.TERMINATED
    assert not Participant.objects.filter(device=device, left_at=None).exists()


def test_transitions_are_append_only(setup):
    t = EnrollmentTransition.objects.filter(enrollment=submit(setup)).first()
    t.reason = "edited"
    with pytest.raises(ValidationError):
        t.save()
    with pytest.raises(ValidationError):
        t.delete()


def test_double_enrollment_is_refused_by_the_database(setup):
    submit(setup, street="1 Main Street", account_number="5550000001")
    with pytest.raises(services.AlreadyEnrolled):
        submit(setup, street="1 MAIN ST.", account_number="5550000002")
    with pytest.raises(services.AlreadyEnrolled):
        submit(setup, street="2 Main Street", account_number="5550000001")
    # Even a direct write that skips the services hits the constraint.
    first = Enrollment.objects.get(account_number="5550000001")
    first.pk = None
    first.street = "3 Main Street"
    with pytest.raises(IntegrityError), transaction.atomic():
        first.save()


def test_a_closed_enrollment_frees_the_site(setup):
    first = submit(setup, street="4 Main Street", account_number="5550000004")
    services.enrollment_reject(enrollment=first, actor=setup.manager, reason="Missing photo")
    again = submit(setup, street="4 Main Street", account_number="5550000004")
    assert again.state == S.ELIGIBLE


def test_the_telemetry_hook_costs_at_most_one_query_when_nothing_waits(
    setup, django_assert_num_queries, django_capture_on_commit_callbacks
):
    device = register(setup, "NW-HOT")
    e = submit(setup, serial="NW-HOT")  # eligible, not approved: nothing to link
    hook = {"utility_id": setup.utility.pk, "device_ids": [device.pk]}
    with django_assert_num_queries(1):
        assert services.enrollments_on_telemetry(**hook) == 0
    with django_assert_num_queries(0):  # the burst that follows costs nothing
        assert services.enrollments_on_telemetry(**hook) == 0
    # Approval (after commit) tells the hook to look again, so the device links at once.
    with django_capture_on_commit_callbacks(execute=True):
        services.enrollment_approve(enrollment=e, actor=setup.manager)
    e.refresh_from_db()
    assert e.state == S.DEVICE_LINKED  # linked at approval, the device existed
    with django_capture_on_commit_callbacks(execute=True):
        report(setup, device)
    e.refresh_from_db()
    assert e.state == S.ACTIVE


def test_an_enrollment_approved_by_any_write_after_the_hook_found_none_waiting_links_at_once(
    setup, django_assert_num_queries
):
    """That nothing waits is kept until an enrollment is written, however it is written."""
    device = register(setup, "NW-RAW")
    e = submit(setup, serial="NW-RAW")
    hook = {"utility_id": setup.utility.pk, "device_ids": [device.pk]}
    assert services.enrollments_on_telemetry(**hook) == 0
    with django_assert_num_queries(0):
        assert services.enrollments_on_telemetry(**hook) == 0
    Enrollment.objects.filter(pk=e.pk).update(state=S.APPROVED)  # not through the service
    assert services.enrollments_on_telemetry(**hook) == 1
    e.refresh_from_db()
    assert e.state == S.DEVICE_LINKED
