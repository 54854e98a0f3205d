from rest_framework import serializers

from programs.models import (
    INT32_MAX,
    INT32_MIN,
    MAX_CURVE_POINTS,
    Curve,
    DispatchGroup,
    Event,
    Program,
    Season,
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


class EventSerializer(serializers.ModelSerializer):
    group = TenantRelatedField(queryset=DispatchGroup.objects.all())
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
        ]
        read_only_fields = [
            "mrid",
            "program",
            "status",
            "superseded_by",
            "created_by",
            "created_at",
        ]


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
