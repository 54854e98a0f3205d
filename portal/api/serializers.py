from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from rest_framework import serializers

from portal.models import Alert
from tenancy.api.serializers import TenantModelSerializer
from tenancy.models import Brand, Membership, TerritoryArea, Utility


class UtilitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Utility
        fields = ["id", "name", "slug", "brand_name", "brand_colour", "timezone"]
        read_only_fields = fields


class BrandSerializer(TenantModelSerializer):
    class Meta:
        model = Brand
        fields = ["id", "name", "states"]


class TerritoryAreaSerializer(TenantModelSerializer):
    class Meta:
        model = TerritoryArea
        fields = ["id", "state", "zip_prefix"]
        # Blank (the whole state) or 1-5 digits: the two never overlap in the schema.
        extra_kwargs = {
            "zip_prefix": {
                "validators": [
                    RegexValidator(r"^[0-9]{1,5}$", "Use up to five digits of a ZIP code.")
                ]
            }
        }

    def validate_state(self, value):
        return value.upper()


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.get_full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    memberships = serializers.SerializerMethodField()
    active_utility = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "memberships", "active_utility"]
        read_only_fields = fields

    def get_memberships(self, user) -> list[dict]:
        return [
            {"utility": m.utility.slug, "role": m.role} for m in self.context["request"].memberships
        ]

    def get_active_utility(self, user) -> str | None:
        utility = self.context["request"].utility
        return utility.slug if utility else None


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "message",
            "status",
            "subject_key",
            "subject_url",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
        ]
        read_only_fields = fields
