from rest_framework import serializers

from settlement.models import EventResult, PaymentBatch, SeasonSettlement


class SeasonSettlementSerializer(serializers.ModelSerializer):
    program = serializers.CharField(source="program.slug", read_only=True)
    season = serializers.CharField(source="season.__str__", read_only=True)
    payments = serializers.IntegerField(source="payments.count", read_only=True)

    class Meta:
        model = SeasonSettlement
        fields = [
            "id",
            "program",
            "season",
            "version",
            "computed_at",
            "event_count",
            "payments",
            "total",
        ]
        read_only_fields = fields


class EventResultSerializer(serializers.ModelSerializer):
    event = serializers.IntegerField(source="run.event_id", read_only=True)
    run_version = serializers.IntegerField(source="run.version", read_only=True)
    is_current = serializers.BooleanField(source="run.is_current", read_only=True)

    class Meta:
        model = EventResult
        fields = [
            "id",
            "event",
            "run_version",
            "is_current",
            "device",
            "window_s",
            "committed_w",
            "measured_w",
            "baseline_w",
            "delivered_w",
            "energy_wh",
            "performance_factor",
            "coverage",
            "flags",
            "treatment",
            "counted",
        ]
        read_only_fields = fields


class PaymentBatchSerializer(serializers.ModelSerializer):
    program = serializers.CharField(source="program.slug", read_only=True)
    approved_by = serializers.CharField(
        source="approved_by.username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = PaymentBatch
        fields = [
            "id",
            "program",
            "period",
            "status",
            "created_at",
            "approved_at",
            "approved_by",
            "locked_at",
        ]
        read_only_fields = fields


class RecomputeSerializer(serializers.Serializer):
    event = serializers.IntegerField()


class RecomputeResultSerializer(serializers.Serializer):
    event = serializers.IntegerField()
    version = serializers.IntegerField(help_text="The new reconciliation run's version.")
    run = serializers.IntegerField()
