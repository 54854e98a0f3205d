"""``/api/v1/enrollments/``: program managers decide, every staff role reads."""

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from enrollment import services
from enrollment.api.serializers import (
    AccountImportResultSerializer,
    AccountImportSerializer,
    BulkDecisionResultSerializer,
    BulkDecisionSerializer,
    DecisionSerializer,
    EnrollmentAttachDeviceSerializer,
    EnrollmentSerializer,
)
from enrollment.choices import EnrollmentState
from enrollment.models import EligibilityResult, Enrollment
from tenancy.api.viewsets import TenantScopedMixin
from tenancy.choices import Role


class EnrollmentViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet
):
    """Enrollments of the active utility. Filters: ``state``, ``program`` (slug),
    ``eligibility`` (passed|failed)."""

    queryset = Enrollment.objects.select_related("program", "terms").prefetch_related(
        "eligibility_results"
    )
    serializer_class = EnrollmentSerializer
    write_roles = frozenset({Role.PROGRAM_MANAGER})

    def get_queryset(self):
        qs = super().get_queryset().order_by("-submitted_at", "-pk")
        params = self.request.query_params
        if params.get("state") in EnrollmentState.values:
            qs = qs.filter(state=params["state"])
        if params.get("program"):
            qs = qs.filter(program__slug=params["program"])
        failed = Exists(EligibilityResult.objects.filter(enrollment=OuterRef("pk"), passed=False))
        if params.get("eligibility") == "failed":
            qs = qs.filter(failed)
        elif params.get("eligibility") == "passed":
            qs = qs.exclude(failed).filter(eligibility_results__isnull=False).distinct()
        return qs

    def _decide(self, request, decide):
        enrollment = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            enrollment = decide(enrollment, request.user, body.validated_data["reason"])
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(EnrollmentSerializer(self.get_queryset().get(pk=enrollment.pk)).data)

    @extend_schema(request=DecisionSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(
            request,
            lambda e, user, reason: services.enrollment_approve(
                enrollment=e, actor=user, reason=reason
            ),
        )

    @extend_schema(request=DecisionSerializer, responses=EnrollmentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(
            request,
            lambda e, user, reason: services.enrollment_reject(
                enrollment=e, actor=user, reason=reason
            ),
        )

    @extend_schema(
        request=EnrollmentAttachDeviceSerializer,
        responses=EnrollmentSerializer,
        description="Attach a registered device, by LFDI or SFDI, to an approved enrollment. "
        "A refusal answers 409 with the reason and changes nothing.",
    )
    @action(detail=True, methods=["post"], url_path="attach-device")
    def attach_device(self, request, pk=None):
        enrollment = self.get_object()
        body = EnrollmentAttachDeviceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            enrollment = services.enrollment_attach_device(
                enrollment=enrollment,
                identity=body.validated_data["identity"],
                actor=request.user,
            )
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(EnrollmentSerializer(self.get_queryset().get(pk=enrollment.pk)).data)

    @extend_schema(request=BulkDecisionSerializer, responses=BulkDecisionResultSerializer)
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        body = BulkDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            result = services.enrollments_bulk_decide(
                utility=request.utility,
                ids=data["ids"],
                approve=data["action"] == "approve",
                actor=request.user,
                reason=data["reason"],
            )
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {"done": result.done, "skipped": {str(k): v for k, v in result.skipped.items()}}
        )

    @extend_schema(
        request={"multipart/form-data": AccountImportSerializer},
        responses=AccountImportResultSerializer,
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import-accounts",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_accounts(self, request):
        body = AccountImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            text = body.validated_data["file"].read().decode("utf-8-sig")
        except UnicodeDecodeError:
            return Response({"errors": ["The file is not UTF-8 text."]}, status=400)
        result = services.whitelist_import(utility=request.utility, file_text=text)
        if result.errors:
            return Response({"errors": result.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"created": result.created, "updated": result.updated})
