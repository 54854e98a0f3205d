from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from programs.choices import EventKind
from programs.controls import CONTROL_FIELDS, DEFAULT_ONLY_FIELDS
from programs.models import (
    INT32_MAX,
    INT32_MIN,
    MAX_CURVE_POINTS,
    Curve,
    DefaultControl,
    DispatchGroup,
    Event,
    Program,
    Season,
    SiteEnvelope,
)
from programs.selectors import CapacityForecast
from tenancy.api.serializers import TenantModelSerializer


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key that only resolves rows of the caller's utility (others look missing)."""

    def get_queryset(self):
        return super().get_queryset().for_utility(self.context["request"].utility)


class SeasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Season
        fields = ["id", "name", "start_date", "end_date", "max_events", "max_hours"]


class ProgramSerializer(TenantModelSerializer):
    seasons = SeasonSerializer(many=True, read_only=True)

    class Meta:
        model = Program
        exclude = ["utility"]
        read_only_fields = ["created_at"]


class DispatchGroupSerializer(TenantModelSerializer):
    program = TenantRelatedField(queryset=Program.objects.all())

    class Meta:
        model = DispatchGroup
        fields = ["id", "program", "name", "mrid", "states", "zip_prefixes", "feeders", "vendors"]
        read_only_fields = ["mrid"]


class AttachDeviceSerializer(serializers.Serializer):
    identity = serializers.CharField(
        max_length=40, help_text="The registered device's LFDI (40 hex digits) or SFDI (decimal)."
    )


class AttachedDeviceSerializer(serializers.Serializer):
    device = serializers.IntegerField(help_text="The fleet device's id.")
    lfdi = serializers.CharField(allow_null=True)
    sfdi = serializers.IntegerField(allow_null=True)


class FreqDroopSerializer(serializers.Serializer):
    """2030.5 FreqDroopType: dead bands (thousandths of Hz), droops (thousandths, per-unit
    frequency change for a 1 per-unit change of output), open-loop response time
    (hundredths of a second)."""

    dBOF = serializers.IntegerField(min_value=0, max_value=2**32 - 1)
    dBUF = serializers.IntegerField(min_value=0, max_value=2**32 - 1)
    kOF = serializers.IntegerField(min_value=0, max_value=65535)
    kUF = serializers.IntegerField(min_value=0, max_value=65535)
    openLoopTms = serializers.IntegerField(min_value=0, max_value=65535)


# 0 to 1 with up to 3 decimals ("0.9", ".85", "1.000"): a decimal travels as a string, where
# OpenAPI has no minimum or maximum, so the pattern carries the range the field enforces.
POWER_FACTOR_PATTERN = r"^(?:0?\.\d{1,3}|0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$"


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": POWER_FACTOR_PATTERN, "nullable": True}
)
class PowerFactorField(serializers.DecimalField):
    """A displacement power factor, 0 to 1 (2030.5 PowerFactorWithExcitation)."""

    def __init__(self, **kwargs):
        super().__init__(
            max_digits=4, decimal_places=3, min_value=0, max_value=1, allow_null=True, **kwargs
        )


def _curve_field(mode: str) -> TenantRelatedField:
    return TenantRelatedField(
        queryset=Curve.objects.all(),
        required=False,
        allow_null=True,
        help_text=f"{mode}: the id of one of the program's curves of that type.",
    )


class ControlModesMixin(serializers.Serializer):
    """The ControlBase modes as API fields: curve modes by curve id, frequency droop as an
    object. Which of them a kind or a profile allows is programs.controls' to say."""

    op_mod_freq_droop = FreqDroopSerializer(required=False, allow_null=True)
    op_mod_fixed_pf_inject_w = PowerFactorField(required=False)
    op_mod_fixed_pf_absorb_w = PowerFactorField(required=False)
    op_mod_volt_var = _curve_field("opModVoltVar")
    op_mod_volt_watt = _curve_field("opModVoltWatt")
    op_mod_freq_watt = _curve_field("opModFreqWatt")
    op_mod_watt_pf = _curve_field("opModWattPF")
    op_mod_watt_var = _curve_field("opModWattVar")

    @staticmethod
    def pop_controls(data: dict) -> dict:
        """The modes given (not null) taken out of validated data."""
        controls = {f: data.pop(f) for f in CONTROL_FIELDS if f in data}
        return {f: v for f, v in controls.items() if v is not None}


class EventSerializer(ControlModesMixin, serializers.ModelSerializer):
    group = TenantRelatedField(queryset=DispatchGroup.objects.all())
    kind = serializers.ChoiceField(
        choices=EventKind.choices,
        help_text="The control family. Discharge and charge are planned (target_w split per "
        "device, served as opModTargetW); every other kind gives its modes' values "
        "(export_limit: op_mod_exp_lim_w, or target_w as before). multi_mode gives several "
        "families' modes in one control (e.g. op_mod_exp_lim_w, op_mod_imp_lim_w and "
        "op_mod_connect together); at most one active and one reactive power mode.",
    )
    emergency_override = serializers.BooleanField(default=False)
    override_reason = serializers.CharField(required=False, allow_blank=True, write_only=True)
    signed_target_w = serializers.IntegerField(read_only=True)
    end = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "mrid",
            "program",
            "group",
            "kind",
            "purpose",
            "status",
            "start",
            "end",
            "duration_s",
            "target_w",
            "signed_target_w",
            "setpoint_rule",
            "per_device_w",
            "selection",
            "randomize_start_s",
            "randomize_duration_s",
            "primacy",
            "is_test",
            "emergency_override",
            "override_reason",
            "superseded_by",
            "created_by",
            "created_at",
            *CONTROL_FIELDS,
        ]
        read_only_fields = [
            "mrid",
            "program",
            "status",
            "superseded_by",
            "created_by",
            "created_at",
        ]


class KindRuleSerializer(serializers.Serializer):
    rule = serializers.CharField()
    label = serializers.CharField()
    applies = serializers.BooleanField()
    why = serializers.CharField()


class ViolationSerializer(serializers.Serializer):
    rule = serializers.CharField()
    message = serializers.CharField()


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class ForecastSerializer(serializers.Serializer):
    duration_s = serializers.IntegerField()
    devices = serializers.IntegerField()
    discharge_w = serializers.IntegerField()
    discharge_wh = serializers.IntegerField()
    charge_w = serializers.IntegerField()
    charge_wh = serializers.IntegerField()
    excluded = serializers.DictField(child=serializers.IntegerField())
    summary = serializers.CharField()

    @classmethod
    def of(cls, forecast: CapacityForecast) -> dict:
        return cls(
            {
                "duration_s": forecast.duration_s,
                "devices": forecast.devices,
                "discharge_w": forecast.discharge_w,
                "discharge_wh": forecast.discharge_wh,
                "charge_w": forecast.charge_w,
                "charge_wh": forecast.charge_wh,
                "excluded": forecast.excluded,
                "summary": forecast.summary,
            }
        ).data


class GroupMemberSerializer(serializers.Serializer):
    device = serializers.IntegerField(help_text="A device of this utility (devices API id).")


class GroupMembersSerializer(serializers.Serializer):
    devices = serializers.ListField(child=serializers.IntegerField())


class CurvePointSerializer(serializers.Serializer):
    """One CurveData point, as sent: the real value is x * 10^x_multiplier (y likewise)."""

    x = serializers.IntegerField(min_value=INT32_MIN, max_value=INT32_MAX)
    y = serializers.IntegerField(min_value=INT32_MIN, max_value=INT32_MAX)
    excitation = serializers.BooleanField(
        required=False, help_text="Watt-PF: true when the DER absorbs vars (under-excited)."
    )


class CurveSerializer(TenantModelSerializer):
    """A program's DERCurve. Its type and program stay fixed while a control links it."""

    program = TenantRelatedField(queryset=Program.objects.all())
    points = serializers.ListField(
        child=CurvePointSerializer(),
        min_length=1,
        max_length=MAX_CURVE_POINTS,
        help_text="1 to 10 points, x strictly increasing.",
    )

    class Meta:
        model = Curve
        exclude = ["utility"]
        read_only_fields = ["mrid", "created_at", "changed_at"]

    def validate_points(self, points):
        return [dict(point) for point in points]


class DefaultControlSerializer(ControlModesMixin, serializers.ModelSerializer):
    """A dispatch group's DefaultDERControl: any mode its program's profile allows, and the
    enter-service settings and gradients. A PUT replaces it whole (what it leaves out is
    cleared)."""

    class Meta:
        model = DefaultControl
        fields = ["group", *CONTROL_FIELDS, *DEFAULT_ONLY_FIELDS, "changed_at"]
        read_only_fields = ["group", "changed_at"]


class SiteEnvelopeSerializer(serializers.ModelSerializer):
    """A published site envelope (read): the NMI without its checksum digit."""

    class Meta:
        model = SiteEnvelope
        fields = [
            "id",
            "mrid",
            "connection_point_id",
            "start",
            "duration_s",
            "op_mod_imp_lim_w",
            "op_mod_exp_lim_w",
            "op_mod_gen_lim_w",
            "op_mod_load_lim_w",
            "created",
            "cancelled_at",
        ]
        read_only_fields = fields


def _limit_w(what: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0,
        max_value=INT32_MAX,
        required=False,
        allow_null=True,
        help_text=f"csipaus:{what} at the connection point, W.",
    )


class SiteEnvelopeRowSerializer(serializers.Serializer):
    """One envelope of a batch: one NMI, one interval, at least one limit."""

    connection_point_id = serializers.CharField(
        min_length=10,
        max_length=11,
        help_text="The NMI: 10 characters, or 11 with its checksum digit (then checked).",
    )
    start = serializers.DateTimeField(help_text="Start of the interval, with its offset.")
    duration_s = serializers.IntegerField(min_value=60, max_value=INT32_MAX)
    op_mod_imp_lim_w = _limit_w("opModImpLimW")
    op_mod_exp_lim_w = _limit_w("opModExpLimW")
    op_mod_gen_lim_w = _limit_w("opModGenLimW")
    op_mod_load_lim_w = _limit_w("opModLoadLimW")


class SiteEnvelopeRefusalRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Index of the row in the posted list, from 0.")
    field = serializers.CharField()
    message = serializers.CharField()


class SiteEnvelopeRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(required=False)
    rows = SiteEnvelopeRefusalRowSerializer(many=True, required=False)


class SiteEnvelopesStoredSerializer(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Envelopes stored (new or replacing).")
