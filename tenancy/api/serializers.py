"""The API's base serializer for tenant-owned rows."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers


class WholeLengthCharField(serializers.CharField):
    """A CharField that reads text as its schema says: a string (DRF also took a number and
    stored its digits), and ``max_length`` held for the text as sent, not only after
    surrounding whitespace is trimmed."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class TenantModelSerializer(serializers.ModelSerializer):
    """Validates like the model does, with the caller's utility filled in: ``clean()`` and
    every database constraint (unique names per utility, checks) answer 400, never 500."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: WholeLengthCharField,
    }

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
            # A saved row: uniqueness checks must leave the row itself out (they do only
            # for instances not "adding"); without this every PATCH that kept a unique
            # value, e.g. a program's slug, was refused as colliding with itself.
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
