"""``/api/v1/`` settlement endpoints: settlements and results to read; managers approve batches."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from programs.models import Event
from settlement import services
from settlement.api.serializers import (
    EventResultSerializer,
    PaymentBatchSerializer,
    RecomputeResultSerializer,
    RecomputeSerializer,
    SeasonSettlementSerializer,
)
from settlement.models import EventResult, ImmutableError, PaymentBatch, SeasonSettlement
from tenancy.api.viewsets import TenantReadOnlyViewSet
from tenancy.choices import Role
from tenancy.selectors import get_for_utility


class SeasonSettlementViewSet(TenantReadOnlyViewSet):
    """Season settlements, newest first."""

    queryset = SeasonSettlement.objects.select_related("program", "season")
    serializer_class = SeasonSettlementSerializer


class EventResultViewSet(TenantReadOnlyViewSet):
    """Per-device event results of current runs; ``?event=<id>`` narrows to one event."""

    queryset = EventResult.objects.select_related("run")
    serializer_class = EventResultSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = queryset.filter(run__is_current=True)
            event = self.request.query_params.get("event")
            if event and event.isdigit():
                queryset = queryset.filter(run__event_id=int(event))
        return queryset.order_by("run__event_id", "device_id")

    @extend_schema(
        request=RecomputeSerializer,
        responses={
            200: RecomputeResultSerializer,
            404: OpenApiResponse(description="No such event in the caller's utility."),
            409: OpenApiResponse(description="The event cannot be reconciled now."),
        },
    )
    @action(detail=False, methods=["post"])
    def recompute(self, request):
        """Reconcile an event again now (e.g. after late telemetry)."""
        serializer = RecomputeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = get_for_utility(
            Event.objects.all(), utility=request.utility, pk=serializer.validated_data["event"]
        )
        try:
            run = services.event_reconcile(event=event)
        except services.SettlementError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response({"event": event.pk, "version": run.version, "run": run.pk})


class PaymentBatchViewSet(TenantReadOnlyViewSet):
    """Payment batches; a program manager approves a draft, after which it is final."""

    queryset = PaymentBatch.objects.select_related("program", "approved_by")
    serializer_class = PaymentBatchSerializer
    write_roles = {Role.PROGRAM_MANAGER}

    @extend_schema(request=None, responses=PaymentBatchSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        batch = self.get_object()
        try:
            batch = services.payment_batch_approve(batch=batch, actor=request.user)
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except ImmutableError as exc:
            return Response({"detail": exc.messages[0]}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(batch).data)
