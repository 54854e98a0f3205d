"""`/api/v1/vendor/runs/`: a vendor's own conformance runs (token auth, organisation-scoped).

Fail closed: a user without a vendor membership sees nothing; another organisation's run
answers 404.
"""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.response import Response

from vendors.api.serializers import VendorRunSerializer
from vendors.models import ConformanceRun
from vendors.registry import engine
from vendors.selectors import vendor_membership
from vendors.services import conformance_run_launch


class VendorRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Start a run on one of your applications, follow it, and fetch its report."""

    serializer_class = VendorRunSerializer
    queryset = ConformanceRun.objects.all()

    def _organization(self):
        membership = vendor_membership(self.request.user)
        return membership.organization if membership else None

    def get_queryset(self):
        org = self._organization()
        if org is None:
            return ConformanceRun.objects.none()
        return ConformanceRun.objects.filter(application__organization=org).order_by("-pk")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "organization": self._organization()}

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            run = conformance_run_launch(
                application=data["application"],
                procedures=data.get("procedures") or None,
                time_scale=data["time_scale"],
                parameters=data.get("parameters") or None,
                actor=request.user,
            )
        except ValidationError as exc:
            raise ApiValidationError(exc.messages) from None
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: dict})
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        return Response(engine().run_report(self.get_object()))
