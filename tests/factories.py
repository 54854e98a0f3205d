"""Small factories for tests. ``TENANT_FACTORIES`` makes one row of every tenant-owned model.

The tenant-isolation sweep creates one of each for another utility; a tenant-owned model
without a factory here makes that test fail, so later models cannot slip past it.
"""

import itertools
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from devices.models import (
    ConnectorCommand,
    ConnectorSite,
    Device,
    FleetRollup,
    OtherReading,
    TelemetryRollup,
    TelemetryRollupPending,
    TelemetrySample,
)
from enrollment.models import (
    AccountWhitelist,
    Customer,
    EligibilityResult,
    EligibilityRules,
    Enrollment,
    EnrollmentDraft,
    EnrollmentTransition,
    EventNotice,
    IncentiveRates,
    ProgramTerms,
)
from portal.models import Alert, AlertRule
from programs.models import (
    BlackoutDate,
    Curve,
    DefaultControl,
    Dispatch,
    DispatchGroup,
    DispatchGroupMember,
    Event,
    EventTransition,
    OptOut,
    Participant,
    Program,
    ProgramChange,
    QualifiedEquipment,
    Season,
    SiteEnvelope,
)
from protocol.identity import sfdi_from_lfdi
from protocol.models import (
    Client,
    ControlResponse,
    EndDevice,
    ExchangeRecord,
    LogEvent,
    MirrorMeterReading,
    MirrorUsagePoint,
    Subscription,
)
from settlement.models import (
    Adjustment,
    CustomerPayment,
    EventResult,
    Payee,
    PaymentBatch,
    PaymentLine,
    ReconciliationRun,
    SeasonSettlement,
    SettlementRules,
)
from tenancy.choices import Role
from tenancy.models import Brand, Membership, TerritoryArea, Utility
from vendors.models import (
    CertificateAuthority,
    ConformanceRun,
    IssuedCertificate,
    ProductModel,
    VendorApplication,
    VendorMembership,
    VendorOrganization,
)

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def user(email: str | None = None, **fields):
    email = email or f"user{next(_seq)}@example.test"
    return get_user_model().objects.create_user(
        username=email, email=email, password=PASSWORD, **fields
    )


def utility(name: str | None = None, **fields) -> Utility:
    n = next(_seq)
    name = name or f"Utility {n}"
    return Utility.objects.create(name=name, slug=fields.pop("slug", f"utility-{n}"), **fields)


def member(utility: Utility, role: str = Role.PROGRAM_MANAGER, **user_fields):
    person = user(**user_fields)
    Membership.objects.create(utility=utility, user=person, role=role)
    return person


def brand(utility: Utility, marker: str = "") -> Brand:
    return Brand.objects.create(utility=utility, name=f"{marker}Brand {next(_seq)}", states="OR")


def territory_area(utility: Utility, marker: str = "") -> TerritoryArea:
    return TerritoryArea.objects.create(utility=utility, state="ZZ", zip_prefix=str(next(_seq))[:5])


def membership(utility: Utility, marker: str = "") -> Membership:
    person = user(email=f"{marker.lower().strip('-')}{next(_seq)}@example.test")
    return Membership.objects.create(utility=utility, user=person, role=Role.ANALYST)


def customer(utility: Utility, marker: str = "") -> Customer:
    return Customer.objects.create(utility=utility, user=user(), name=f"{marker}Customer")


def device(utility: Utility, marker: str = "", **fields) -> Device:
    n = next(_seq)
    defaults = {
        "vendor_name": f"{marker}Acme",
        "model_name": "PowerCell 10",
        "serial": f"{marker}SN{n:06d}",
        "max_charge_w": 5000,
        "max_discharge_w": 5000,
        "capacity_wh": 13500,
        "state": "OR",
        "zip_code": "97201",
    }
    return Device.objects.create(utility=utility, **{**defaults, **fields})


def other_reading(utility: Utility, marker: str = "") -> OtherReading:
    return OtherReading.objects.create(
        utility=utility,
        device=device(utility, marker),
        quantity=f"{marker}power factor",
        unit="cos",
        at=timezone.now(),
        value=0.97,
    )


def telemetry_sample(utility: Utility, marker: str = "") -> TelemetrySample:
    return TelemetrySample.objects.create(
        utility=utility, device=device(utility, marker), at=timezone.now(), channel="w", value=1.0
    )


def telemetry_rollup(utility: Utility, marker: str = "") -> TelemetryRollup:
    return TelemetryRollup.objects.create(
        utility=utility,
        device=device(utility, marker),
        channel="w",
        period="5m",
        bucket_start=datetime(2026, 1, 1, tzinfo=UTC),
        avg=1,
        min=1,
        max=1,
        count=1,
    )


def fleet_rollup(utility: Utility, marker: str = "") -> FleetRollup:
    return FleetRollup.objects.create(
        utility=utility,
        channel="w",
        period="5m",
        devices=1,
        total=1.0,
        bucket_start=datetime(2026, 1, 1, next(_seq) % 24, tzinfo=UTC),
    )


def telemetry_rollup_pending(utility: Utility, marker: str = "") -> TelemetryRollupPending:
    return TelemetryRollupPending.objects.create(
        utility=utility, hour_start=datetime(2026, 1, 1, next(_seq) % 24, tzinfo=UTC)
    )


def connector_site(utility: Utility, marker: str = "", **fields) -> ConnectorSite:
    n = next(_seq)
    defaults = {
        "name": f"{marker}Site {n}",
        "host": "127.0.0.1",
        "port": 1024 + n % 60000,
        "unit_id": 1,
    }
    if "device" not in fields:
        defaults["device"] = device(utility, marker)
    return ConnectorSite.objects.create(utility=utility, **{**defaults, **fields})


def connector_command(utility: Utility, marker: str = "") -> ConnectorCommand:
    site = connector_site(utility, marker)
    return ConnectorCommand.objects.create(
        utility=utility,
        site=site,
        device=site.device,
        kind="test",
        error=f"{marker}refused",
        at=timezone.now(),
    )


def program(utility: Utility, marker: str = "", **fields) -> Program:
    n = next(_seq)
    defaults = {"name": f"{marker}Battery Program {n}", "slug": f"program-{n}"}
    return Program.objects.create(utility=utility, **{**defaults, **fields})


def season(utility: Utility, marker: str = "") -> Season:
    return Season.objects.create(
        utility=utility,
        program=program(utility, marker),
        name=f"{marker}Summer",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 9, 30),
    )


def blackout_date(utility: Utility, marker: str = "") -> BlackoutDate:
    return BlackoutDate.objects.create(
        utility=utility,
        program=program(utility, marker),
        date=date(2026, 7, 4),
        reason=f"{marker}Holiday",
    )


def qualified_equipment(utility: Utility, marker: str = "") -> QualifiedEquipment:
    return QualifiedEquipment.objects.create(
        utility=utility,
        program=program(utility, marker),
        vendor_name=f"{marker}Acme",
        model_name="PowerCell 10",
        nameplate_w=5000,
        nameplate_wh=13500,
    )


def dispatch_group(utility: Utility, marker: str = "", prog: Program | None = None):
    prog = prog or program(utility, marker)
    return DispatchGroup.objects.create(
        utility=utility, program=prog, name=f"{marker}Group {next(_seq)}"
    )


def program_change(utility: Utility, marker: str = "") -> ProgramChange:
    return ProgramChange.objects.create(
        utility=utility,
        program=program(utility, marker),
        part="incentives",
        actor_label=f"{marker}pm",
        before={"upfront_per_kw": "100.00"},
        after={"upfront_per_kw": "150.00"},
    )


def curve(utility: Utility, marker: str = "", **fields) -> Curve:
    prog = fields.pop("program", None) or program(utility, marker)
    defaults = {
        "description": f"{marker}Volt-var"[:32],  # DERCurve's String32
        "curve_type": 11,
        "points": [{"x": 92, "y": 44}, {"x": 98, "y": 0}, {"x": 102, "y": 0}, {"x": 108, "y": -44}],
        "y_ref_type": 2,
    }
    return Curve.objects.create(utility=utility, program=prog, **{**defaults, **fields})


def site_envelope(utility: Utility, marker: str = "", **fields) -> SiteEnvelope:
    """One envelope (an export limit at NMI 4102000001) of a CSIP-AUS program."""
    prog = fields.pop("program", None) or program(
        utility, marker, profile="csip_aus", site_envelope_primacy=1
    )
    defaults = {
        "connection_point_id": "4102000001",
        "start": timezone.now() + timedelta(hours=1),
        "duration_s": 1800,
        "op_mod_exp_lim_w": 1500,
    }
    return SiteEnvelope.objects.create(utility=utility, program=prog, **{**defaults, **fields})


def default_control(utility: Utility, marker: str = "", **fields) -> DefaultControl:
    group = fields.pop("group", None) or dispatch_group(utility, marker)
    return DefaultControl.objects.create(utility=utility, group=group, **fields)


def event(utility: Utility, marker: str = "", **fields) -> Event:
    group = fields.pop("group", None) or dispatch_group(utility, marker)
    defaults = {
        "kind": "discharge",
        "start": timezone.now() + timedelta(hours=2),
        "duration_s": 3600,
        "target_w": 10_000,
    }
    return Event.objects.create(
        utility=utility, program=group.program, group=group, **{**defaults, **fields}
    )


def event_transition(utility: Utility, marker: str = "") -> EventTransition:
    return EventTransition.objects.create(
        utility=utility,
        event=event(utility, marker),
        at=timezone.now(),
        actor_label=f"{marker}tester",
        to_status="draft",
    )


def participant(utility: Utility, marker: str = "") -> Participant:
    return Participant.objects.create(
        utility=utility,
        program=program(utility, marker),
        device=device(utility, marker),
        joined_at=timezone.now(),
    )


def dispatch_group_member(utility: Utility, marker: str = "") -> DispatchGroupMember:
    return DispatchGroupMember.objects.create(
        utility=utility,
        group=dispatch_group(utility, marker),
        device=device(utility, marker),
        attached_at=timezone.now(),
    )


def opt_out(utility: Utility, marker: str = "") -> OptOut:
    return OptOut.objects.create(
        utility=utility,
        event=event(utility, marker),
        device=device(utility, marker),
        source="portal",
        at=timezone.now(),
    )


def dispatch(utility: Utility, marker: str = "") -> Dispatch:
    return Dispatch.objects.create(
        utility=utility,
        event=event(utility, marker),
        device=device(utility, marker),
        setpoint_w=1000,
    )


def program_terms(utility: Utility, marker: str = "", prog: Program | None = None):
    return ProgramTerms.objects.create(
        utility=utility,
        program=prog or program(utility, marker),
        version=1,
        body=f"{marker}Terms and conditions",
        published_at=timezone.now() - timedelta(days=1),
    )


def incentive_rates(utility: Utility, marker: str = "", prog: Program | None = None):
    return IncentiveRates.objects.create(
        utility=utility,
        program=prog or program(utility, marker),
        upfront_per_kw=Decimal("150.00"),
        upfront_cap=Decimal("1000.00"),
        participation_credit_per_kw=Decimal("4.00"),
    )


def eligibility_rules(utility: Utility, marker: str = "", prog: Program | None = None, **fields):
    return EligibilityRules.objects.create(
        utility=utility, program=prog or program(utility, marker), **fields
    )


def account_whitelist(utility: Utility, marker: str = "", **fields) -> AccountWhitelist:
    defaults = {"account_number": f"{next(_seq):010d}", "exclusion_reason": f"{marker}"}
    return AccountWhitelist.objects.create(utility=utility, **{**defaults, **fields})


def enrollment(utility: Utility, marker: str = "", **fields) -> Enrollment:
    """An enrollment written directly (no services): state and facts as given."""
    prog = fields.pop("program", None) or program(utility, marker)
    equipment = fields.pop("equipment", None) or QualifiedEquipment.objects.create(
        utility=utility,
        program=prog,
        vendor_name=f"{marker}Acme",
        model_name=f"PowerCell {next(_seq)}",
        nameplate_w=5000,
        nameplate_wh=13500,
    )
    terms = fields.pop("terms", None) or (
        ProgramTerms.objects.filter(program=prog).first() or program_terms(utility, marker, prog)
    )
    n = next(_seq)
    now = timezone.now()
    defaults = {
        "email": f"customer{n}@example.test",
        "street": f"{n} {marker}Main St",
        "city": "Portland",
        "state_code": "OR",
        "zip_code": "97201",
        "account_number": f"{n:010d}",
        "vendor_name": equipment.vendor_name,
        "model_name": equipment.model_name,
        "equipment": equipment,
        "serial": f"{marker}SN{n:06d}",
        "install_date": date(2026, 5, 1),
        "terms": terms,
        "state": "submitted",
        "state_changed_at": now,
        "submitted_at": now,
    }
    return Enrollment.objects.create(utility=utility, program=prog, **{**defaults, **fields})


def enrollment_transition(utility: Utility, marker: str = "") -> EnrollmentTransition:
    return EnrollmentTransition.objects.create(
        utility=utility,
        enrollment=enrollment(utility, marker),
        to_state="submitted",
        actor_label=f"{marker}tester",
        at=timezone.now(),
    )


def eligibility_result(utility: Utility, marker: str = "") -> EligibilityResult:
    return EligibilityResult.objects.create(
        utility=utility,
        enrollment=enrollment(utility, marker),
        rule="territory",
        passed=False,
        reason=f"{marker}outside",
        checked_at=timezone.now(),
    )


def enrollment_draft(utility: Utility, marker: str = "") -> EnrollmentDraft:
    return EnrollmentDraft.objects.create(
        utility=utility, program=program(utility, marker), data={"street": f"{marker}Elm"}
    )


def event_notice(utility: Utility, marker: str = "") -> EventNotice:
    dev = device(utility, marker)
    enr = enrollment(utility, marker, device=dev, state="active")
    group = dispatch_group(utility, marker, prog=enr.program)
    return EventNotice.objects.create(
        utility=utility, enrollment=enr, event=event(utility, marker, group=group), device=dev
    )


def alert_rule(utility: Utility, marker: str = "", **fields) -> AlertRule:
    return AlertRule.objects.create(utility=utility, kind="device_stale", **fields)


def alert(utility: Utility, marker: str = "") -> Alert:
    return Alert.objects.create(
        utility=utility,
        rule=alert_rule(utility),
        kind="device_stale",
        subject_key=f"device:{next(_seq)}",
        message=f"{marker}Device silent",
        opened_at=timezone.now(),
    )


def _lfdi() -> str:
    return secrets.token_hex(20).upper()


def sep_client(utility: Utility, marker: str = "", **fields) -> Client:
    lfdi = fields.pop("lfdi", None) or _lfdi()
    defaults = {"kind": "aggregator", "name": f"{marker}Aggregator", "sfdi": sfdi_from_lfdi(lfdi)}
    return Client.objects.create(utility=utility, lfdi=lfdi, **{**defaults, **fields})


def end_device(utility: Utility, marker: str = "", **fields) -> EndDevice:
    lfdi = fields.pop("lfdi", None) or _lfdi()
    defaults = {
        "sfdi": sfdi_from_lfdi(lfdi),
        "pin": 12345,
        "changed_time": timezone.now(),
        "device": device(utility, marker),
    }
    return EndDevice.objects.create(utility=utility, lfdi=lfdi, **{**defaults, **fields})


def mirror_usage_point(utility: Utility, marker: str = "") -> MirrorUsagePoint:
    return MirrorUsagePoint.objects.create(
        utility=utility,
        end_device=end_device(utility, marker),
        mrid=f"{next(_seq):032X}",
        description=f"{marker}Meter"[:32],
    )


def mirror_meter_reading(utility: Utility, marker: str = "") -> MirrorMeterReading:
    return MirrorMeterReading.objects.create(
        utility=utility,
        mirror_usage_point=mirror_usage_point(utility, marker),
        mrid=f"{next(_seq):032X}",
        description=f"{marker}W"[:32],
        channel="w",
        uom=38,
    )


def control_response(utility: Utility, marker: str = "") -> ControlResponse:
    return ControlResponse.objects.create(
        utility=utility,
        event=event(utility, marker),
        end_device=end_device(utility, marker),
        status=1,
        created_at=timezone.now(),
    )


def log_event(utility: Utility, marker: str = "") -> LogEvent:
    return LogEvent.objects.create(
        utility=utility,
        end_device=end_device(utility, marker),
        created_at=timezone.now(),
        details=f"{marker}log"[:32],
        function_set=0,
        log_event_code=1,
        log_event_id=1,
        log_event_pen=1,
        profile_id=0,
    )


def subscription(utility: Utility, marker: str = "") -> Subscription:
    return Subscription.objects.create(
        utility=utility,
        end_device=end_device(utility, marker),
        subscribed_resource=f"/edev/1/{marker}",
        notification_uri="http://127.0.0.1:9/notify",
    )


def settlement_rules(utility: Utility, marker: str = "") -> SettlementRules:
    return SettlementRules.objects.create(utility=utility, program=program(utility, marker))


def payee(utility: Utility, marker: str = "") -> Payee:
    return Payee.objects.create(
        utility=utility, device=device(utility, marker), account_number=f"{marker}ACCT{next(_seq)}"
    )


def reconciliation_run(utility: Utility, marker: str = "") -> ReconciliationRun:
    return ReconciliationRun.objects.create(
        utility=utility,
        event=event(utility, marker, status="completed"),
        version=1,
        baseline_method="battery_telemetry",
        inputs={"marker": marker},
        inputs_digest=f"{marker}digest",
        created_at=timezone.now(),
    )


def event_result(utility: Utility, marker: str = "") -> EventResult:
    return EventResult.objects.create(
        utility=utility,
        run=reconciliation_run(utility, marker),
        device=device(utility, marker),
        window_s=3600,
        committed_w=5000,
        measured_w=4000.0,
        baseline_w=0.0,
        delivered_w=4000.0,
        energy_wh=4000.0,
        performance_factor=Decimal("0.8000"),
        coverage=1.0,
    )


def season_settlement(utility: Utility, marker: str = "") -> SeasonSettlement:
    s = season(utility, marker)
    return SeasonSettlement.objects.create(
        utility=utility, program=s.program, season=s, computed_at=timezone.now()
    )


def payment_batch(utility: Utility, marker: str = "") -> PaymentBatch:
    return PaymentBatch.objects.create(
        utility=utility,
        program=program(utility, marker),
        period=f"{marker}Summer 2026",
        created_at=timezone.now(),
    )


def customer_payment(utility: Utility, marker: str = "") -> CustomerPayment:
    return CustomerPayment.objects.create(
        utility=utility,
        settlement=season_settlement(utility, marker),
        device=device(utility, marker),
        account_number=f"{marker}ACCT{next(_seq)}",
        amount=Decimal("136.80"),
    )


def payment_line(utility: Utility, marker: str = "") -> PaymentLine:
    return PaymentLine.objects.create(
        utility=utility,
        payment=customer_payment(utility, marker),
        kind="kw_season",
        quantity=Decimal("3.42"),
        unit="kW-season",
        rate=Decimal("40"),
        amount=Decimal("136.80"),
        explanation=f"{marker} avg 3.42 kW",
    )


def adjustment(utility: Utility, marker: str = "") -> Adjustment:
    return Adjustment.objects.create(
        utility=utility,
        batch=payment_batch(utility, marker),
        device=device(utility, marker),
        amount=Decimal("-5.00"),
        reason=f"{marker}correction",
        created_at=timezone.now(),
    )


def vendor_organization(marker: str = "", **fields) -> VendorOrganization:
    n = next(_seq)
    defaults = {"name": f"{marker}Vendor {n}", "slug": f"vendor-{n}", "status": "approved"}
    return VendorOrganization.objects.create(**{**defaults, **fields})


def vendor_member(organization: VendorOrganization, role: str = "admin", **user_fields):
    person = user(**user_fields)
    VendorMembership.objects.create(organization=organization, user=person, role=role)
    return person


def product_model(organization: VendorOrganization, marker: str = "") -> ProductModel:
    return ProductModel.objects.create(
        organization=organization,
        vendor_name=organization.name,
        model_name=f"{marker}Cell {next(_seq)}",
        power_kw=Decimal("5.00"),
        energy_kwh=Decimal("13.50"),
        chemistry="LFP",
    )


def vendor_application(
    utility: Utility, marker: str = "", organization: VendorOrganization | None = None
) -> VendorApplication:
    from vendors.services import application_create

    return application_create(
        organization=organization or vendor_organization(marker),
        program=program(utility, marker),
    )


def certificate_authority(utility: Utility, marker: str = "") -> CertificateAuthority:
    from vendors.certificates import authority_ensure

    return authority_ensure(utility=utility)


def issued_certificate(utility: Utility, marker: str = "") -> IssuedCertificate:
    from vendors.certificates import certificate_issue

    return certificate_issue(application=vendor_application(utility, marker)).certificate


def conformance_run(utility: Utility, marker: str = "") -> ConformanceRun:
    cert = issued_certificate(utility, marker)
    return ConformanceRun.objects.create(
        utility=utility,
        application=cert.application,
        certificate=cert,
        procedures=["time_sync"],
        results={"time_sync": {"title": f"{marker}Time", "status": "pending", "steps": []}},
    )


def exchange_record(utility: Utility, marker: str = "") -> ExchangeRecord:
    return ExchangeRecord.objects.create(
        utility=utility,
        client=sep_client(utility, marker),
        run_id=1,
        method="GET",
        path=f"/tm?{marker}",
        status=200,
        at=timezone.now(),
    )


# model -> factory(utility, marker). The marker is a string that must never show up in
# another utility's pages.
TENANT_FACTORIES = {
    Brand: brand,
    TerritoryArea: territory_area,
    Membership: membership,
    Customer: customer,
    Device: device,
    TelemetrySample: telemetry_sample,
    OtherReading: other_reading,
    TelemetryRollup: telemetry_rollup,
    TelemetryRollupPending: telemetry_rollup_pending,
    ConnectorSite: connector_site,
    ConnectorCommand: connector_command,
    FleetRollup: fleet_rollup,
    Program: program,
    Season: season,
    BlackoutDate: blackout_date,
    QualifiedEquipment: qualified_equipment,
    DispatchGroup: dispatch_group,
    Curve: curve,
    SiteEnvelope: site_envelope,
    ProgramChange: program_change,
    DefaultControl: default_control,
    Event: event,
    EventTransition: event_transition,
    Participant: participant,
    DispatchGroupMember: dispatch_group_member,
    OptOut: opt_out,
    SettlementRules: settlement_rules,
    Payee: payee,
    ReconciliationRun: reconciliation_run,
    EventResult: event_result,
    SeasonSettlement: season_settlement,
    PaymentBatch: payment_batch,
    CustomerPayment: customer_payment,
    PaymentLine: payment_line,
    Adjustment: adjustment,
    Dispatch: dispatch,
    ProgramTerms: program_terms,
    IncentiveRates: incentive_rates,
    EligibilityRules: eligibility_rules,
    AccountWhitelist: account_whitelist,
    Enrollment: enrollment,
    EnrollmentTransition: enrollment_transition,
    EligibilityResult: eligibility_result,
    EnrollmentDraft: enrollment_draft,
    EventNotice: event_notice,
    AlertRule: alert_rule,
    Alert: alert,
    Client: sep_client,
    EndDevice: end_device,
    MirrorUsagePoint: mirror_usage_point,
    MirrorMeterReading: mirror_meter_reading,
    ControlResponse: control_response,
    LogEvent: log_event,
    Subscription: subscription,
    ExchangeRecord: exchange_record,
    VendorApplication: vendor_application,
    CertificateAuthority: certificate_authority,
    IssuedCertificate: issued_certificate,
    ConformanceRun: conformance_run,
}
