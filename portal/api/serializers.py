from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from portal.models import Alert, Brand, Membership, TerritoryArea, Utility


class TenantModelSerializer(serializers.ModelSerializer):
    """Validates like the model does, with the caller's utility filled in: ``clean()`` and
    every database constraint (unique names per utility, checks) answer 400, never 500."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        if self.instance is not None:
            instance = model(
                **{
                    f.attname: getattr(self.instance, f.attname)
                    for f in model._meta.concrete_fields
                }
            )
        else:
            instance = model(utility=self.context["request"].utility)
        for name, value in attrs.items():
            setattr(instance, name, value)
        try:
            instance.clean()
            instance.validate_constraints()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from exc
        return attrs


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
