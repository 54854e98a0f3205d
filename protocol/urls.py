"""2030.5 paths, mounted at the site root. Unnamed on purpose: they are not portal pages,
and every one resolves its tenant from the client certificate (protocol.fsets.base)."""

from django.urls import path

from protocol.fsets import dcap, der, derp, edev, mirror, response

E = "edev/<int:eid>"
P = f"{E}/derp/<int:gid>"
D = f"{E}/der/<int:did>"
S = f"{E}/derp/site/<int:pid>"  # a program's site DERProgram (CSIP-AUS envelopes)

urlpatterns = [
    path("dcap", dcap.DeviceCapabilityView.as_view()),
    # Answers that depend on the clock or are written per request are never cached.
    path("tm", dcap.TimeView.as_view(cacheable=False)),
    path("edev", edev.EndDeviceListView.as_view()),
    path(E, edev.EndDeviceView.as_view()),
    path(f"{E}/rg", edev.RegistrationView.as_view()),
    path(f"{E}/cp", edev.ConnectionPointView.as_view()),
    path(f"{E}/di", edev.DeviceInformationView.as_view()),
    path(f"{E}/fsa", edev.FunctionSetAssignmentsListView.as_view()),
    path(f"{E}/fsa/<int:fid>", edev.FunctionSetAssignmentsView.as_view()),
    path(f"{E}/fsa/<int:fid>/derp", edev.FunctionSetAssignmentsDERProgramListView.as_view()),
    path(f"{E}/derp", derp.DERProgramListView.as_view()),
    path(P, derp.DERProgramView.as_view()),
    path(f"{P}/derc", derp.DERControlListView.as_view()),
    path(f"{P}/derc/<str:mrid>", derp.DERControlView.as_view()),
    path(f"{P}/actderc", derp.ActiveDERControlListView.as_view()),
    path(f"{P}/dderc", derp.DefaultDERControlView.as_view()),
    path(f"{P}/dc", derp.DERCurveListView.as_view()),
    path(f"{P}/dc/<int:cid>", derp.DERCurveView.as_view()),
    path(S, derp.SiteDERProgramView.as_view()),
    path(f"{S}/derc", derp.SiteDERControlListView.as_view()),
    path(f"{S}/derc/<str:mrid>", derp.SiteDERControlView.as_view()),
    path(f"{S}/actderc", derp.SiteActiveDERControlListView.as_view()),
    path(f"{E}/der", der.DERListView.as_view()),
    path(D, der.DERView.as_view()),
    path(f"{D}/dercap", der.DERCapabilityView.as_view()),
    path(f"{D}/derg", der.DERSettingsView.as_view()),
    path(f"{D}/ders", der.DERStatusView.as_view()),
    path(f"{D}/dera", der.DERAvailabilityView.as_view()),
    path(f"{E}/lel", response.LogEventListView.as_view(cacheable=False)),
    path(f"{E}/sub", response.SubscriptionListView.as_view(cacheable=False)),
    path(f"{E}/sub/<int:sid>", response.SubscriptionView.as_view(cacheable=False)),
    path("mup", mirror.MirrorUsagePointListView.as_view()),
    path("mup/<int:mid>", mirror.MirrorUsagePointView.as_view()),
    path("rsp", response.ResponseListView.as_view(cacheable=False)),
]
