from dataclasses import asdict

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from devices.models import Device
from programs import services
from programs.api.serializers import (
    AttachDeviceSerializer,
    AttachedDeviceSerializer,
    CancelSerializer,
    CurveSerializer,
    DefaultControlSerializer,
    DispatchGroupSerializer,
    EventSerializer,
    ForecastSerializer,
    GroupMemberSerializer,
    GroupMembersSerializer,
    KindRuleSerializer,
    ProgramSerializer,
    SiteEnvelopeRefusalSerializer,
    SiteEnvelopeRowSerializer,
    SiteEnvelopeSerializer,
    SiteEnvelopesStoredSerializer,
    ViolationSerializer,
)
from programs.choices import EventKind, EventStatus
from programs.controls import allowed_kinds
from programs.models import Curve, DefaultControl, DispatchGroup, Event, Program, SiteEnvelope
from programs.rules import rules_for_kind
from programs.selectors import (
    FUNNEL_LABELS,
    capacity_forecast,
    event_funnel,
    group_devices,
    site_envelopes,
)
from tenancy.api.filters import choice_param, id_filter
from tenancy.api.viewsets import Conflict, TenantModelViewSet, TenantScopedMixin
from tenancy.choices import Role


class ProgramViewSet(TenantModelViewSet):
    """Programs and their rules. Program managers edit; everyone at the utility reads."""

    queryset = Program.objects.prefetch_related("seasons")
    serializer_class = ProgramSerializer
    write_roles = {Role.PROGRAM_MANAGER}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind", str, enum=EventKind.values, required=True, description="An event kind"
            )
        ],
        responses=KindRuleSerializer(many=True),
    )
    # One program's rules, not a collection: unpaginated, and documented so.
    @action(detail=True, methods=["get"], url_path="kind-rules", pagination_class=None)
    def kind_rules(self, request, pk=None):
        """Which of the program's rules apply to an event of ``kind``, and why (or why
        not), in words; and the kinds its profile allows."""
        program = self.get_object()
        kind = request.query_params.get("kind", "")
        if kind not in EventKind.values:
            raise ValidationError({"kind": f"One of: {', '.join(EventKind.values)}."})
        if kind not in allowed_kinds(program.profile):
            raise ValidationError({"kind": "The program's profile does not allow this kind."})
        return Response(
            KindRuleSerializer([asdict(r) for r in rules_for_kind(program, kind)], many=True).data
        )


class DispatchGroupViewSet(TenantModelViewSet):
    queryset = DispatchGroup.objects.select_related("program")
    serializer_class = DispatchGroupSerializer
    write_roles = {Role.PROGRAM_MANAGER}

    @extend_schema(
        parameters=[OpenApiParameter("duration_s", int, description="Window length, seconds")],
        responses=ForecastSerializer,
    )
    @action(detail=True, methods=["get"])
    def forecast(self, request, pk=None):
        """What the group could deliver now for a window of ``duration_s`` seconds."""
        group = self.get_object()
        try:
            duration_s = int(request.query_params.get("duration_s", 3600))
        except ValueError as exc:
            raise ValidationError({"duration_s": "Give a whole number of seconds."}) from exc
        if not 60 <= duration_s <= 86_400:
            raise ValidationError({"duration_s": "Between 60 and 86400 seconds."})
        return Response(
            ForecastSerializer.of(capacity_forecast(group=group, duration_s=duration_s))
        )

    @extend_schema(methods=["get"], responses=GroupMembersSerializer, request=None)
    @extend_schema(
        methods=["post"], request=GroupMemberSerializer, responses=GroupMembersSerializer
    )
    @action(detail=True, methods=["get", "post"])
    def members(self, request, pk=None):
        """The group's devices (its program's participants that meet its criteria); POST
        adds one (it joins the program; refused if it does not meet the criteria). This
        decides which DERPrograms an EndDevice's FunctionSetAssignments list."""
        group = self.get_object()
        if request.method == "POST":
            body = GroupMemberSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            device = self._device(body.validated_data["device"])
            try:
                services.group_member_add(group=group, device=device)
            except DjangoValidationError as exc:
                raise ValidationError({"device": exc.messages}) from exc
        ids = list(group_devices(group=group).order_by("pk").values_list("pk", flat=True))
        return Response({"devices": ids})

    @extend_schema(request=None, responses=GroupMembersSerializer)
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<device_id>[0-9]+)")
    def member_remove(self, request, pk=None, device_id=None):
        """Remove a device: it leaves the group's program (so every group of it)."""
        group = self.get_object()
        device = Device.objects.for_utility(request.utility).filter(pk=int(device_id)).first()
        if device is None or not group_devices(group=group).filter(pk=device.pk).exists():
            raise NotFound("That device is not a member of this group.")
        services.group_member_remove(group=group, device=device)
        ids = list(group_devices(group=group).order_by("pk").values_list("pk", flat=True))
        return Response({"devices": ids})

    @extend_schema(
        methods=["get"],
        request=None,
        responses={
            200: DefaultControlSerializer,
            404: OpenApiResponse(description="The group has no default control."),
        },
    )
    @extend_schema(
        methods=["put"],
        request=DefaultControlSerializer,
        responses={
            200: DefaultControlSerializer,
            400: OpenApiResponse(description="Field errors keyed by field; nothing changed."),
        },
        description="Set the group's DefaultDERControl, replacing it whole: any mode its "
        "program's profile allows (curve modes by curve id), enter service and gradients. A "
        "mode the profile refuses, or a curve of another type or program, answers 400 "
        "naming the field and changes nothing.",
    )
    @extend_schema(
        methods=["delete"],
        request=None,
        responses={
            204: None,
            404: OpenApiResponse(description="The group has no default control."),
        },
    )
    @action(detail=True, methods=["get", "put", "delete"], url_path="default-control")
    def default_control(self, request, pk=None):
        """The group's DefaultDERControl: what its DERs do when no event is active. GET
        answers 404 while the group has none (its DERs are then served an empty one)."""
        group = self.get_object()
        if request.method == "DELETE":
            if not services.default_control_clear(group=group, actor=request.user):
                raise NotFound("This group has no default control.")
            return Response(status=status.HTTP_204_NO_CONTENT)
        if request.method == "PUT":
            body = DefaultControlSerializer(data=request.data, context={"request": request})
            body.is_valid(raise_exception=True)
            values = dict(body.validated_data)
            try:
                default = services.default_control_set(
                    group=group, actor=request.user, values=values
                )
            except DjangoValidationError as exc:
                raise ValidationError(serializers.as_serializer_error(exc)) from exc
            return Response(DefaultControlSerializer(default, context={"request": request}).data)
        default = DefaultControl.objects.for_utility(request.utility).filter(group=group).first()
        if default is None:
            raise NotFound("This group has no default control.")
        return Response(DefaultControlSerializer(default, context={"request": request}).data)

    def _device(self, device_id: int) -> Device:
        device = Device.objects.for_utility(self.request.utility).filter(pk=device_id).first()
        if device is None:
            raise ValidationError({"device": ["No such device at this utility."]})
        return device

    @extend_schema(
        request=AttachDeviceSerializer,
        responses={201: AttachedDeviceSerializer},
        description="Attach a registered device, by LFDI or SFDI, to the group whatever its "
        "criteria. It must take part in the group's program. A refusal answers 409 with the "
        "reason and changes nothing.",
    )
    @action(detail=True, methods=["post"], url_path="attach-device")
    def attach_device(self, request, pk=None):
        group = self.get_object()
        body = AttachDeviceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            device = services.dispatch_group_attach_device(
                group=group, identity=body.validated_data["identity"], actor=request.user
            )
        except DjangoValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(
            {"device": device.pk, "lfdi": device.lfdi, "sfdi": device.sfdi},
            status=status.HTTP_201_CREATED,
        )


_DETAIL = inline_serializer("CurveDetail", {"detail": serializers.CharField()})
_REFUSED = OpenApiResponse(
    OpenApiTypes.OBJECT, description="What is wrong, as {field: [messages]}; nothing changed."
)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("program", int, description="Only this program's curves")]
    ),
    create=extend_schema(responses={201: CurveSerializer, 400: _REFUSED, 403: _DETAIL}),
    retrieve=extend_schema(responses={200: CurveSerializer, 404: _DETAIL}),
    update=extend_schema(
        responses={200: CurveSerializer, 400: _REFUSED, 403: _DETAIL, 404: _DETAIL}
    ),
    partial_update=extend_schema(
        responses={200: CurveSerializer, 400: _REFUSED, 403: _DETAIL, 404: _DETAIL}
    ),
    destroy=extend_schema(responses={204: None, 403: _DETAIL, 404: _DETAIL, 409: _DETAIL}),
)
class CurveViewSet(TenantModelViewSet):
    """A program's DERCurves (volt-var, volt-watt, freq-watt, watt-PF …), listed in its
    DERPrograms' DERCurveLists and linked by the curve modes of events and defaults.
    Program managers edit; everyone at the utility reads. A curve a control links keeps its
    type and program and cannot be deleted (409)."""

    queryset = Curve.objects.select_related("program")
    serializer_class = CurveSerializer
    write_roles = {Role.PROGRAM_MANAGER}

    def get_queryset(self):
        return id_filter(super().get_queryset(), self.request.query_params, "program", "program_id")

    def perform_create(self, serializer):
        self._save(serializer, Curve(utility=self.request.utility))

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    def _save(self, serializer, curve: Curve) -> None:
        for name, value in serializer.validated_data.items():
            setattr(curve, name, value)
        try:
            serializer.instance = services.curve_save(curve=curve)
        except DjangoValidationError as exc:
            raise ValidationError(serializers.as_serializer_error(exc)) from exc

    def perform_destroy(self, instance):
        try:
            services.curve_delete(curve=instance)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from exc


class EventViewSet(
    TenantScopedMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Dispatch events. Created through the same rule checks and audit as the portal.

    Events are never edited or deleted: cancel them, or schedule a newer overlapping one.
    """

    queryset = Event.objects.select_related("group", "program")
    serializer_class = EventSerializer
    write_roles = {Role.PROGRAM_MANAGER, Role.OPERATOR}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status", str, enum=EventStatus.values, description="Only this status"
            ),
            OpenApiParameter("program", int, description="Only this program's events"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if self.action == "list" and (status := choice_param(params, "status", EventStatus.values)):
            queryset = queryset.filter(status=status)
        return id_filter(queryset, params, "program", "program_id")

    @extend_schema(
        responses={
            201: EventSerializer,
            400: OpenApiResponse(
                inline_serializer(
                    "EventRefusal",
                    {"violations": ViolationSerializer(many=True, required=False)},
                ),
                description="The program's rules refused it (`violations`), or fields did: "
                "then each key is a field, e.g. a mode the kind or the profile does not allow, "
                "two modes that cannot go together, or a curve of another type or program, "
                "with why.",
            ),
        },
        description="Create an event of any kind with its modes' values (a curve mode by "
        "curve id). Discharge and charge take target_w (or per_device_w); an export limit "
        "takes op_mod_exp_lim_w, or target_w as before; a multi_mode event takes several "
        "modes at once, served together in one DERControl. Any kind may carry ramp_tms.",
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        group = data.pop("group")
        controls = serializer.pop_controls(data)
        try:
            event = services.event_create(
                program=group.program, group=group, actor=request.user, controls=controls, **data
            )
        except services.EventRuleError as refused:
            return Response(
                {"violations": services.violations_as_dicts(refused.violations)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            raise ValidationError(serializers.as_serializer_error(exc)) from exc
        return Response(self.get_serializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CancelSerializer, responses=EventSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        event = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            event = services.event_cancel(
                event=event, actor=request.user, reason=body.validated_data.get("reason", "")
            )
        except DjangoValidationError as exc:
            raise ValidationError({"detail": exc.messages}) from exc
        return Response(self.get_serializer(event).data)

    @extend_schema(
        responses=inline_serializer(
            "EventFunnel",
            {k: serializers.IntegerField() for k in FUNNEL_LABELS},
        )
    )
    @action(detail=True, methods=["get"])
    def funnel(self, request, pk=None):
        funnel = event_funnel(event=self.get_object())
        return Response(funnel)


# A DNSP's batch: e.g. 10,000 NMIs for one interval, or one NMI for days of intervals.
MAX_SITE_ENVELOPES_PER_POST = 20_000
_PROGRAM_ID = OpenApiParameter(
    "program_id", int, OpenApiParameter.PATH, description="The program's id"
)
_ENVELOPES_REFUSED = OpenApiResponse(
    SiteEnvelopeRefusalSerializer,
    description="Refused whole, nothing stored: `rows` names each bad row by its index in "
    "the list and the field (an NMI that is not one, a missing limit, an interval that "
    "overlaps another row's or a stored envelope's for the same NMI), or `detail` says why "
    "the batch as a whole is refused (not a list, too long, or the program publishes no "
    "site envelopes).",
)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            _PROGRAM_ID,
            OpenApiParameter(
                "connection_point_id",
                str,
                description="Only this NMI's (with or without its checksum digit)",
            ),
            OpenApiParameter(
                "active_at",
                OpenApiTypes.DATETIME,
                description="Only the envelopes in force then (started, not ended, not cancelled)",
            ),
        ],
        responses={200: SiteEnvelopeSerializer(many=True), 400: _REFUSED, 404: _DETAIL},
    ),
    create=extend_schema(
        parameters=[_PROGRAM_ID],
        request=SiteEnvelopeRowSerializer(many=True),
        responses={
            201: SiteEnvelopesStoredSerializer,
            400: _ENVELOPES_REFUSED,
            403: _DETAIL,
            404: _DETAIL,
        },
        description="Publish a batch of dynamic operating envelopes, all or nothing (at "
        f"most {MAX_SITE_ENVELOPES_PER_POST:,} rows). A row with the NMI and start of a stored "
        "envelope replaces it (new limits and duration, a new mRID, no longer cancelled). "
        "Each site whose EndDevice reports that NMI as its ConnectionPoint is served them as "
        "the DERControls of the program's site DERProgram.",
    ),
    destroy=extend_schema(
        parameters=[_PROGRAM_ID],
        responses={204: None, 403: _DETAIL, 404: _DETAIL},
        description="Cancel the envelope: its site is shown it as cancelled until its "
        "interval ends. Cancelling it again changes nothing.",
    ),
)
class SiteEnvelopeViewSet(
    TenantScopedMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """A program's site envelopes (CSIP-AUS dynamic operating envelopes, one NMI and one
    interval each), ordered by NMI and start. Program managers and operators publish and
    cancel; everyone at the utility reads."""

    queryset = SiteEnvelope.objects.all()
    serializer_class = SiteEnvelopeSerializer
    write_roles = {Role.PROGRAM_MANAGER, Role.OPERATOR}

    def program(self) -> Program:
        """The program in the path, of the caller's utility (another's is missing: 404)."""
        program = (
            Program.objects.for_utility(self.request.utility)
            .filter(pk=self.kwargs["program_id"])
            .first()
        )
        if program is None:
            raise NotFound("No such program.")
        return program

    def get_queryset(self):
        params = self.request.query_params
        active_at = None
        if self.action == "list" and "active_at" in params:
            active_at = parse_datetime(params["active_at"])
            if active_at is None or active_at.tzinfo is None:
                raise ValidationError(
                    {"active_at": ["Give a date and time with its offset (ISO 8601)."]}
                )
        nmi = params.get("connection_point_id", "") if self.action == "list" else ""
        return site_envelopes(program=self.program(), connection_point_id=nmi, active_at=active_at)

    def create(self, request, *args, **kwargs):
        program = self.program()
        if not isinstance(request.data, list):
            return self._refused(detail="Send a JSON list of envelopes.")
        if len(request.data) > MAX_SITE_ENVELOPES_PER_POST:
            return self._refused(
                detail=f"At most {MAX_SITE_ENVELOPES_PER_POST:,} envelopes per request."
            )
        body = SiteEnvelopeRowSerializer(data=request.data, many=True)
        if not body.is_valid():
            return self._refused(rows=_row_errors(body.errors))
        try:
            stored = services.site_envelopes_publish(program=program, rows=body.validated_data)
        except services.SiteEnvelopesRefused as refused:
            return self._refused(
                rows=[{"row": i, "field": f, "message": m} for i, f, m in refused.rows]
            )
        except DjangoValidationError as exc:
            return self._refused(detail=" ".join(exc.messages))
        return Response({"stored": stored}, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.site_envelope_cancel(envelope=instance)

    @staticmethod
    def _refused(*, rows: list[dict] | None = None, detail: str = "") -> Response:
        """400 as documented: the bad rows, or why the whole batch is refused."""
        body: dict[str, object] = {"rows": rows} if rows is not None else {"detail": detail}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _row_errors(errors) -> list[dict]:
    """A list serializer's errors as rows: DRF gives one dict per row (empty for good rows),
    or the bad rows' dicts by index."""
    by_row = errors.items() if isinstance(errors, dict) else enumerate(errors)
    return [
        {"row": int(index), "field": field, "message": str(message)}
        for index, row in by_row
        for field, messages in (row.items() if isinstance(row, dict) else [("row", [row])])
        for message in (messages if isinstance(messages, list) else [messages])
    ]
