"""Registration: in band (POST /edev) and out of band (pre-registered with a PIN)."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

from devices.models import Device
from devices.services import device_register
from programs.services import participant_add
from protocol.conformance.procedures.framework import (
    Context,
    Procedure,
    Step,
    StepFailed,
    StepSkipped,
)
from protocol.identity import sfdi_check_digit, sfdi_from_lfdi
from protocol.managers.edev import edev_href, registration_href
from protocol.managers.mirror import MIRROR_USAGE_POINT_LIST_HREF
from protocol.models import EndDevice
from protocol.services import end_device_preregister, pin_is_valid

PIN_MISMATCH_WINDOW_S = 60  # scaled seconds after reading a wrong PIN without using the device
PIN_MISMATCH = "registration_oob_pin_mismatch"


def step_registered(ctx: Context) -> bool:
    devices = list(ctx.end_devices().values("pk", "lfdi", "sfdi", "device_id"))
    ctx.evidence["end_devices"] = devices
    return bool(devices)


def oob_parameters(parameters: dict) -> tuple[str, int] | None:
    """The out-of-band LFDI and PIN a run was given, validated, or None when absent."""
    # As the vendor typed them (any JSON value); checked below.
    lfdi: Any = parameters.get("oob_lfdi")
    pin: Any = parameters.get("oob_pin")
    if not lfdi and pin in (None, ""):
        return None
    try:
        lfdi = str(lfdi).strip().upper()
        sfdi_from_lfdi(lfdi)
        pin = int(pin)
    except (TypeError, ValueError) as exc:
        raise ValidationError("oob_lfdi must be 40 hex digits and oob_pin a number.") from exc
    if not pin_is_valid(pin):
        raise ValidationError("oob_pin's last digit is not its 2030.5 check digit.")
    return lfdi, pin


def wrong_pin(pin: int) -> int:
    """A valid PIN (its own check digit) that is not `pin`: the utility's typo."""
    base = (pin // 10 + 1) % 100_000
    return base * 10 + sfdi_check_digit(base)


def setup_oob(ctx: Context) -> None:
    """Pre-register the vendor's device with its PIN, as a utility does out of band.

    When the run also has the PIN-mismatch procedure (always before registration_oob,
    `run_create` checks), the device is pre-registered with a wrong PIN instead;
    registration_oob's first step puts the vendor's PIN back.
    """
    given = oob_parameters(ctx.parameters)
    if given is None:
        return
    lfdi, pin = given
    if PIN_MISMATCH in ctx.run.procedures:
        pin = wrong_pin(pin)
    utility = ctx.program.utility
    sfdi = sfdi_from_lfdi(lfdi)
    device = Device.objects.for_utility(utility).filter(lfdi=lfdi).first()
    if device is None:
        device = device_register(
            utility=utility,
            vendor_name="2030.5",
            model_name="unidentified",
            serial=lfdi,
            lfdi=lfdi,
            sfdi=sfdi,
        )
    participant_add(program=ctx.program, device=device, now=ctx.now)
    existing = EndDevice.objects.for_utility(utility).filter(lfdi=lfdi).first()
    if existing is not None:  # a re-run: the same device, this run's client and PIN
        EndDevice.objects.filter(pk=existing.pk).update(
            pin=pin, registered_by=ctx.client, device=device
        )
        return
    end_device_preregister(
        utility=utility, lfdi=lfdi, sfdi=sfdi, pin=pin, device=device, registered_by=ctx.client
    )


def _oob_given(ctx: Context) -> tuple[str, int]:
    given = oob_parameters(ctx.parameters)
    if given is None:
        raise StepSkipped("no out-of-band LFDI and PIN were given with the run (parameters)")
    return given


def _oob_end_device(ctx: Context) -> EndDevice:
    lfdi, _ = _oob_given(ctx)
    end_device = ctx.end_devices().filter(lfdi=lfdi).first()
    if end_device is None:
        raise StepFailed("the pre-registered EndDevice is missing")
    return end_device


def step_oob_pin_restore(ctx: Context) -> bool:
    """Put the vendor's PIN back if the PIN-mismatch procedure left a wrong one."""
    end_device = _oob_end_device(ctx)
    _, pin = _oob_given(ctx)
    if end_device.pin != pin:
        EndDevice.objects.filter(pk=end_device.pk).update(pin=pin)
        # Only what the client does from now on counts: it must read the PIN again.
        ctx.state["since"] = ctx.now.isoformat()
        ctx.evidence["pin_restored_at"] = ctx.now.isoformat()
    return True


def step_oob_pin_read(ctx: Context) -> bool:
    end_device = _oob_end_device(ctx)
    base, rg_href = f"{edev_href(end_device)}/", registration_href(end_device)
    records = ctx.records().filter(path__startswith=base)
    if ctx.state.get("since"):
        records = records.filter(at__gte=ctx.state["since"])
    records = list(records.order_by("at", "pk").values("at", "method", "path", "status"))
    rg = next((r for r in records if r["path"].startswith(rg_href) and r["status"] == 200), None)
    used_before = [
        r["path"]
        for r in records
        if (rg is None or r["at"] < rg["at"]) and not r["path"].startswith(rg_href)
    ]
    if used_before:  # fail at once: no later read can undo it
        raise StepFailed(f"the client used {used_before[0]} before checking the PIN")
    if rg is None:
        return False
    ctx.evidence["registration_read_at"] = rg["at"].isoformat()
    ctx.state["rg_at"] = rg["at"].isoformat()
    return True


def step_oob_refused(ctx: Context) -> bool:
    """After reading a wrong PIN, the client leaves the EndDevice alone for the window.

    Allowed: GET /edev/{id} and GET /edev/{id}/rg (re-reading the PIN, or not, is the
    client's choice). Refused: any other request under /edev/{id}/, any other method on
    /edev/{id}, and any POST /mup carrying the device's LFDI.
    """
    end_device = _oob_end_device(ctx)
    rg_at = datetime.fromisoformat(ctx.state["rg_at"])
    closes = rg_at + ctx.scaled(PIN_MISMATCH_WINDOW_S)
    edev = edev_href(end_device)
    base, rg_href = f"{edev}/", registration_href(end_device)
    records = ctx.records().filter(at__gte=rg_at, at__lt=closes)
    for r in records.order_by("at", "pk"):
        path = r.path.split("?", 1)[0]
        harmless = r.method == "GET" and (path == edev or path.startswith(rg_href))
        used = (path == edev or path.startswith(base)) and not harmless
        mirrored = (
            r.method == "POST"
            and r.path.startswith(MIRROR_USAGE_POINT_LIST_HREF)
            and end_device.lfdi.lower() in r.body_excerpt.lower()
        )
        if used or mirrored:
            raise StepFailed(
                f"the client used the EndDevice despite a wrong PIN: {r.method} {r.path}"
            )
    rereads = records.filter(method="GET", path__startswith=rg_href).count() - 1
    ctx.evidence["pin_rereads"] = max(0, rereads)
    return ctx.now >= closes


def step_oob_proceeds(ctx: Context) -> bool:
    end_device = _oob_end_device(ctx)
    after = (
        ctx.records()
        .filter(path__startswith=f"{edev_href(end_device)}/", at__gte=ctx.state["rg_at"])
        .exclude(path__startswith=registration_href(end_device))
        .filter(status__lt=400)
        .order_by("at")
        .first()
    )
    if after is not None:
        ctx.evidence["then"] = f"{after.method} {after.path}"
    return after is not None


PROCEDURES = (
    Procedure(
        "registration",
        "Registration (in-band)",
        "Core",
        [Step("an EndDevice is registered", step_registered, on_timeout="no EndDevice")],
        "At least one EndDevice is registered by the client's certificate (POST /edev).",
    ),
    Procedure(
        PIN_MISMATCH,
        "Registration (out-of-band, wrong PIN refused)",
        "Registration",
        [
            Step("reads the Registration PIN first", step_oob_pin_read, 120, "no GET …/rg"),
            Step(
                "leaves the EndDevice alone",
                step_oob_refused,
                2 * PIN_MISMATCH_WINDOW_S,
                "the window did not close",
            ),
        ],
        "With an LFDI and PIN given as run parameters, the EndDevice is pre-registered with "
        "a different valid PIN; the client GETs /edev/{id}/rg before any other use, then "
        f"for {PIN_MISMATCH_WINDOW_S} s (scaled) after that read sends nothing for it but "
        "GET /edev/{id} and GET /edev/{id}/rg (no other request under /edev/{id}/, no "
        "PUT/POST, no MirrorUsagePoint with its LFDI). Re-reading the PIN is allowed, not "
        "required. Runs before registration_oob, which puts the vendor's PIN back. Skipped "
        "when no parameters are given.",
        setup=setup_oob,
    ),
    Procedure(
        "registration_oob",
        "Registration (out-of-band, PIN)",
        "Core",
        [
            Step("the vendor's PIN is in place", step_oob_pin_restore, 120),
            Step("reads the Registration PIN first", step_oob_pin_read, 120, "no GET …/rg"),
            Step("then uses the EndDevice", step_oob_proceeds, 120, "never proceeded"),
        ],
        "With an LFDI and PIN given as run parameters, the EndDevice is pre-registered; "
        "the client GETs /edev/{id}/rg before any other use of that EndDevice, then uses "
        "it. After registration_oob_pin_mismatch the vendor's PIN is put back first and "
        "only requests from then on count. Skipped when no parameters are given.",
        setup=setup_oob,
    ),
)
