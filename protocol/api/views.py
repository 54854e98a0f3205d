"""The 2030.5 side of ``/api/v1/``: clients (register, issue from a CSR, revoke, restore),
EndDevices (out-of-band pre-registration, PIN, a site's post and poll rates, delete),
mirror usage points (list, delete, clear) and subscriptions (list, delete on a client's behalf).

Every queryset is the caller's utility's (TenantScopedMixin); a row of another utility is
404, like a missing one. Writes go through protocol.services, as the 2030.5 server's do.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from protocol import services
from protocol.api.serializers import (
    ClearedSerializer,
    ClientIssuedSerializer,
    ClientIssueSerializer,
    ClientRegisterSerializer,
    ClientSerializer,
    EndDeviceCreateSerializer,
    EndDeviceSerializer,
    EndDeviceUpdateSerializer,
    MirrorUsagePointSerializer,
    SubscriptionSerializer,
)
from protocol.identity import client_identity_from_pem
from protocol.models import Client, EndDevice, MirrorUsagePoint, Subscription
from protocol.selectors import end_devices_for_client
from tenancy.api.filters import id_filter
from tenancy.api.viewsets import TenantScopedMixin
from vendors.certificates import (
    chain_pem,
    utility_certificate_issue,
    utility_certificate_revoked_set,
)


def _refused(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(serializers.as_serializer_error(exc))


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("program", int, description="Only this program's clients")]
    ),
    create=extend_schema(request=ClientRegisterSerializer, responses={201: ClientSerializer}),
)
class Sep2ClientViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """2030.5 clients: a certificate (by LFDI) mapped to this utility, an aggregator or a
    device. Register an existing certificate, or have the utility's CA issue one from a
    CSR; revoke and restore. Clients are never deleted (their history refers to them)."""

    queryset = Client.objects.select_related("program")
    serializer_class = ClientSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = id_filter(queryset, self.request.query_params, "program", "program_id")
        return queryset

    def create(self, request, *args, **kwargs):
        body = ClientRegisterSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            identity = client_identity_from_pem(data["certificate"].strip() + "\n")
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValidationError({"certificate": ["Not a PEM certificate."]}) from exc
        try:
            client = services.client_register(
                utility=request.utility,
                lfdi=identity.lfdi,
                kind=data["kind"],
                name=data["name"],
                program=data.get("program"),
                cert_not_after=identity.certificate.not_valid_after_utc,
            )
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        return Response(self.get_serializer(client).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ClientIssueSerializer, responses={201: ClientIssuedSerializer})
    @action(detail=False, methods=["post"])
    def issue(self, request):
        """Sign the CSR with the utility's CA and register its client, in one transaction.
        The private key never reaches the server."""
        body = ClientIssueSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            with transaction.atomic():
                issued = utility_certificate_issue(
                    utility=request.utility,
                    csr_pem=data["csr"],
                    kind=data["kind"],
                    common_name=data["name"],
                )
                client = services.client_register(
                    utility=request.utility,
                    lfdi=issued.lfdi,
                    kind=data["kind"],
                    name=data["name"],
                    program=data.get("program"),
                    cert_not_after=issued.not_after,
                )
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        payload = {
            "client": self.get_serializer(client).data,
            "certificate": issued.pem,
            "chain": chain_pem(utility=request.utility),
        }
        return Response(payload, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ClientSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Refused from the next request on (and at the handshake once the CRL is
        rewritten, for a certificate this utility's CA issued)."""
        client = self.get_object()
        with transaction.atomic():
            services.client_revoke(client=client)
            utility_certificate_revoked_set(utility=request.utility, lfdi=client.lfdi, revoked=True)
        return Response(self.get_serializer(client).data)

    @extend_schema(request=None, responses=ClientSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        """Let a revoked or suspended client in again."""
        client = self.get_object()
        if client.cert_not_after is not None and client.cert_not_after < timezone.now():
            raise ValidationError({"detail": ["The certificate has expired: issue a new one."]})
        with transaction.atomic():
            services.client_restore(client=client)
            utility_certificate_revoked_set(
                utility=request.utility, lfdi=client.lfdi, revoked=False
            )
        return Response(self.get_serializer(client).data)

    @extend_schema(responses=EndDeviceSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="end-devices")
    def end_devices(self, request, pk=None):
        """The EndDevices this client acts for."""
        client = self.get_object()
        rows = end_devices_for_client(client=client).order_by("pk")
        page = self.paginate_queryset(rows)
        data = EndDeviceSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(request=None, responses=ClearedSerializer)
    @action(detail=True, methods=["post"], url_path="clear-mirror-usage-points")
    def clear_mirror_usage_points(self, request, pk=None):
        """Delete every MirrorUsagePoint of this client's EndDevices (never another
        client's); their readings already reached the devices' telemetry."""
        client = self.get_object()
        return Response({"deleted": services.mirror_usage_points_clear(client=client)})


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("client", int, description="Only this client's EndDevices"),
            OpenApiParameter("lfdi", str, description="Only this LFDI (hex, any case)"),
        ]
    ),
    partial_update=extend_schema(request=EndDeviceUpdateSerializer),
)
class Sep2EndDeviceViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """EndDevices. Create = out-of-band pre-registration (LFDI, SFDI, PIN, the client that
    acts for it); PATCH changes the PIN or the post rate; DELETE removes the EndDevice and
    its 2030.5 resources but keeps the linked device and its history."""

    queryset = EndDevice.objects.select_related("registered_by")
    serializer_class = EndDeviceSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if self.action == "list":
            queryset = id_filter(queryset, params, "client", "registered_by_id")
            if lfdi := params.get("lfdi"):
                queryset = queryset.filter(lfdi=lfdi.replace("\x00", "").strip().upper())
        return queryset

    def get_serializer_class(self):
        return EndDeviceCreateSerializer if self.action == "create" else EndDeviceSerializer

    @extend_schema(request=EndDeviceCreateSerializer, responses={201: EndDeviceSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = serializer.validated_data
        try:
            with transaction.atomic():
                serializer.instance = services.end_device_preregister(
                    utility=self.request.utility,
                    lfdi=data["lfdi"],
                    sfdi=data["sfdi"],
                    pin=data["pin"],
                    registered_by=data["registered_by"],
                    post_rate_s=data.get("post_rate_s"),
                    placeholder_device=True,
                )
                if data.get("poll_rate_s") is not None:
                    services.end_device_poll_rate_set(
                        end_device=serializer.instance, poll_rate_s=data["poll_rate_s"]
                    )
        except DjangoValidationError as exc:
            raise _refused(exc) from exc

    @extend_schema(request=EndDeviceUpdateSerializer, responses=EndDeviceSerializer)
    def partial_update(self, request, *args, **kwargs):
        end_device = self.get_object()
        body = EndDeviceUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            with transaction.atomic():
                if "pin" in data:
                    services.end_device_pin_set(end_device=end_device, pin=data["pin"])
                if "post_rate_s" in data:
                    services.end_device_post_rate_set(
                        end_device=end_device, post_rate_s=data["post_rate_s"]
                    )
                if "poll_rate_s" in data:
                    services.end_device_poll_rate_set(
                        end_device=end_device, poll_rate_s=data["poll_rate_s"]
                    )
        except DjangoValidationError as exc:
            raise _refused(exc) from exc
        end_device.refresh_from_db()
        return Response(self.get_serializer(end_device).data)

    def perform_destroy(self, instance):
        services.end_device_delete(end_device=instance)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("client", int, description="Only this client's"),
            OpenApiParameter("end_device", int, description="Only this EndDevice's"),
        ]
    )
)
class _PerEndDeviceViewSet(
    TenantScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """What 2030.5 clients made under their EndDevices: listed (by client or EndDevice),
    read, and deleted on a client's behalf."""

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            params = self.request.query_params
            queryset = id_filter(queryset, params, "client", "end_device__registered_by_id")
            queryset = id_filter(queryset, params, "end_device", "end_device_id")
        return queryset.order_by("pk")


class Sep2MirrorUsagePointViewSet(_PerEndDeviceViewSet):
    """MirrorUsagePoints the clients created; delete one (its readings stay in the
    device's telemetry). To clear a client's, POST
    /sep2/clients/{id}/clear-mirror-usage-points/."""

    queryset = MirrorUsagePoint.objects.select_related("end_device")
    serializer_class = MirrorUsagePointSerializer


class Sep2SubscriptionViewSet(_PerEndDeviceViewSet):
    """Subscriptions the clients made; delete one on a client's behalf (no more
    notifications to its address)."""

    queryset = Subscription.objects.select_related("end_device")
    serializer_class = SubscriptionSerializer

    def perform_destroy(self, instance):
        services.subscription_delete(subscription=instance)


ROUTES = [
    ("sep2/clients", Sep2ClientViewSet, "sep2-client"),
    ("sep2/end-devices", Sep2EndDeviceViewSet, "sep2-end-device"),
    ("sep2/mirror-usage-points", Sep2MirrorUsagePointViewSet, "sep2-mirror-usage-point"),
    ("sep2/subscriptions", Sep2SubscriptionViewSet, "sep2-subscription"),
]
