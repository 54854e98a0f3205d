"""Serializers for the 2030.5 side of the northbound API: clients, EndDevices, mirrors and
subscriptions, as a test harness or a DERMS integration manages them."""

from rest_framework import serializers

from programs.models import Program
from protocol.models import Client, ClientKind, EndDevice, MirrorUsagePoint, Subscription


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key that only resolves rows of the caller's utility (others look missing)."""

    def get_queryset(self):
        return super().get_queryset().for_utility(self.context["request"].utility)


class ClientSerializer(serializers.ModelSerializer):
    program = TenantRelatedField(queryset=Program.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Client
        fields = [
            "id",
            "lfdi",
            "sfdi",
            "kind",
            "name",
            "program",
            "revoked",
            "revoked_at",
            "last_seen_at",
            "cert_not_after",
            "schema_ver",
            "created_at",
        ]
        read_only_fields = [
            "lfdi",
            "sfdi",
            "revoked",
            "revoked_at",
            "last_seen_at",
            "cert_not_after",
            "schema_ver",
            "created_at",
        ]


class ClientRegisterSerializer(serializers.Serializer):
    """Bind a certificate (PEM, from any CA this server trusts) to a client of this utility."""

    certificate = serializers.CharField(help_text="The client's certificate, PEM.")
    kind = serializers.ChoiceField(choices=ClientKind.choices)
    name = serializers.CharField(max_length=120)
    program = TenantRelatedField(queryset=Program.objects.all(), allow_null=True, required=False)


class ClientIssueSerializer(serializers.Serializer):
    """Sign a CSR with the utility's CA and register the client it identifies."""

    csr = serializers.CharField(help_text="A PKCS#10 request, PEM, EC P-256.")
    kind = serializers.ChoiceField(choices=ClientKind.choices)
    name = serializers.CharField(max_length=120)
    program = TenantRelatedField(queryset=Program.objects.all(), allow_null=True, required=False)


class ClientIssuedSerializer(serializers.Serializer):
    client = ClientSerializer()
    certificate = serializers.CharField(help_text="The issued certificate, PEM.")
    chain = serializers.CharField(help_text="The issuing CA and its root, PEM.")


class EndDeviceSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(
        source="registered_by_id",
        read_only=True,
        allow_null=True,
        help_text="The client that acts for this EndDevice (an aggregator, or the device); "
        "null once that client is gone.",
    )
    pin = serializers.IntegerField(
        min_value=0,
        max_value=999999,
        help_text="Registration PIN: up to 6 digits, the last its 2030.5 check digit.",
    )

    class Meta:
        model = EndDevice
        fields = [
            "id",
            "lfdi",
            "sfdi",
            "client",
            "device",
            "pin",
            "post_rate_s",
            "poll_rate_s",
            "changed_time",
            "enabled",
            "last_poll_at",
            "created_at",
        ]
        read_only_fields = ["device", "changed_time", "enabled", "last_poll_at", "created_at"]
        extra_kwargs = {"post_rate_s": {"min_value": 1}, "poll_rate_s": {"min_value": 5}}


class EndDeviceCreateSerializer(EndDeviceSerializer):
    client = TenantRelatedField(
        source="registered_by",
        queryset=Client.objects.all(),
        help_text="The client that acts for this EndDevice (an aggregator, or the device).",
    )


class EndDeviceUpdateSerializer(serializers.Serializer):
    """A new registration PIN and/or this site's post or poll rate (null: the program's)."""

    pin = serializers.IntegerField(min_value=0, max_value=999999, required=False)
    post_rate_s = serializers.IntegerField(min_value=1, allow_null=True, required=False)
    poll_rate_s = serializers.IntegerField(min_value=5, allow_null=True, required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give pin, post_rate_s and/or poll_rate_s.")
        return attrs


class MirrorUsagePointSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(
        source="end_device.registered_by_id", read_only=True, allow_null=True
    )

    class Meta:
        model = MirrorUsagePoint
        fields = [
            "id",
            "end_device",
            "client",
            "mrid",
            "description",
            "role_flags",
            "service_category_kind",
            "status",
            "created_at",
        ]
        read_only_fields = fields


class ClearedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()


class SubscriptionSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(
        source="end_device.registered_by_id", read_only=True, allow_null=True
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "end_device",
            "client",
            "subscribed_resource",
            "notification_uri",
            "encoding",
            "level",
            "limit",
            "created_at",
            "last_notified_at",
            "failures",
        ]
        read_only_fields = fields
