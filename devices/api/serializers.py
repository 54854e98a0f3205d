from rest_framework import serializers

from devices.models import ConnectorSite, Device


class DeviceSerializer(serializers.ModelSerializer):
    health = serializers.CharField(read_only=True)
    connector_site = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    alarms = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "vendor_name",
            "model_name",
            "serial",
            "lfdi",
            "zip_code",
            "state",
            "feeder",
            "max_charge_w",
            "max_discharge_w",
            "capacity_wh",
            "reserve_pct",
            "soc_pct",
            "power_w",
            "last_heard_at",
            "operating_mode",
            "connection_point_id",
            "storage_connect_status",
            "gen_connect_status",
            "alarms",
            "doe_modes_supported",
            "doe_modes_enabled",
            "health",
            "connector_site",
        ]
        read_only_fields = fields


class ConnectorSiteSerializer(serializers.ModelSerializer):
    device = serializers.PrimaryKeyRelatedField(
        queryset=Device.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = ConnectorSite
        fields = [
            "id",
            "name",
            "host",
            "port",
            "unit_id",
            "device",
            "poll_interval_s",
            "enabled",
            "status",
            "model_map",
            "last_polled_at",
            "last_ok_at",
            "last_error",
            "failures",
            "next_attempt_at",
        ]
        read_only_fields = [
            "status",
            "model_map",
            "last_polled_at",
            "last_ok_at",
            "last_error",
            "failures",
            "next_attempt_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        utility = getattr(request, "utility", None)
        # Only the active utility's devices can be named; others answer "does not exist".
        self.fields["device"].queryset = Device.objects.for_utility(utility)

    def validate(self, attrs):
        utility = self.context["request"].utility
        # Fields left out take the instance's value, or on create the model's default.
        address = {
            key: attrs.get(
                key,
                getattr(self.instance, key)
                if self.instance is not None
                else ConnectorSite._meta.get_field(key).get_default(),
            )
            for key in ("host", "port", "unit_id")
        }
        clash = ConnectorSite.objects.for_utility(utility).filter(**address)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("A site already has that host, port and unit id.")
        return attrs
