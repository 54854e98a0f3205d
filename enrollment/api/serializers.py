from rest_framework import serializers

from enrollment.models import CreditPeriod, EligibilityResult, Enrollment


class EligibilityResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = EligibilityResult
        fields = ["rule", "passed", "reason", "checked_at"]


class EnrollmentSerializer(serializers.ModelSerializer):
    program = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    terms_version = serializers.IntegerField(source="terms.version", read_only=True)
    # Blank until the enrollment is approved (the period is fixed then).
    credit_period = serializers.ChoiceField(
        choices=CreditPeriod.choices, allow_blank=True, read_only=True
    )
    eligibility = EligibilityResultSerializer(
        source="eligibility_results", many=True, read_only=True
    )

    class Meta:
        model = Enrollment
        fields = [
            "id", "program", "state", "state_reason", "state_changed_at", "submitted_at",
            "approved_at", "activated_at", "email", "street", "city", "state_code", "zip_code",
            "account_number", "vendor_name", "model_name", "serial", "install_date", "has_solar",
            "solar_kw", "terms_version", "incentive_upfront", "participation_credit_per_kw",
            "credit_period", "device", "eligibility",
        ]  # fmt: skip
        read_only_fields = fields


class EnrollmentAttachDeviceSerializer(serializers.Serializer):
    identity = serializers.CharField(
        max_length=40, help_text="The registered device's LFDI (40 hex digits) or SFDI (decimal)."
    )


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BulkDecisionResultSerializer(serializers.Serializer):
    done = serializers.ListField(child=serializers.IntegerField(), help_text="Decided ids.")
    skipped = serializers.DictField(
        child=serializers.CharField(), help_text="Id -> why it was left as it was."
    )


class AccountImportResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


class BulkDecisionSerializer(serializers.Serializer):
    # Bounded like a database id, so an absurd number is a 400, never an overflow.
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), max_length=1000
    )
    action = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AccountImportSerializer(serializers.Serializer):
    file = serializers.FileField()
