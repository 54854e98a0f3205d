"""The API's base serializer for tenant-owned rows."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers


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
            # The stored row: unique constraints must not find the row itself a clash.
            instance._state.adding = False
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
