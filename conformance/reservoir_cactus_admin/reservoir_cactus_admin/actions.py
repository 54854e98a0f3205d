"""The admin instructions of cactus-client's procedures, carried out on Reservoir's /api/v1
only. No cactus import here: the plugin (plugin.py) calls these, and Reservoir's own test
suite runs them against the real API (tests/conformance/)."""

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reservoir_cactus_admin.api import Api, ApiError

logger = logging.getLogger(__name__)

# The 2030.5 modes a procedure may ask for: (Reservoir's event kind, the API field, how a
# parameter becomes its value). An event of one mode has that mode's kind; of several, the
# kind multi_mode (MULTI_MODE); either may carry a rampTms. A DefaultDERControl sets any of
# them, plus its enter-service settings and gradients (DEFAULT_SETTINGS). Everything else
# is reported as unsupported.
_W = ("W", lambda v: round(float(v)))
_BOOL = ("bool", lambda v: v if isinstance(v, bool) else str(v).lower() in ("1", "true"))
_HUNDREDTHS = ("hundredths of a percent", lambda v: round(float(v)))
MODES: dict[str, tuple[str, str, Any]] = {
    "opModExpLimW": ("export_limit", "op_mod_exp_lim_w", _W[1]),
    "opModImpLimW": ("import_limit", "op_mod_imp_lim_w", _W[1]),
    "opModGenLimW": ("generation_limit", "op_mod_gen_lim_w", _W[1]),
    "opModLoadLimW": ("load_limit", "op_mod_load_lim_w", _W[1]),
    "opModStorageTargetW": ("storage_target", "op_mod_storage_target_w", _W[1]),
    "opModConnect": ("connect", "op_mod_connect", _BOOL[1]),
    "opModEnergize": ("energize", "op_mod_energize", _BOOL[1]),
    "opModFixedW": ("fixed_w", "op_mod_fixed_w", _HUNDREDTHS[1]),
    "opModMaxLimW": ("max_w", "op_mod_max_lim_w", _HUNDREDTHS[1]),
    "opModTargetW": ("target_w", "op_mod_target_w", _W[1]),
}
EVENT_MODES = {name: kind for name, (kind, _, _) in MODES.items()}
MULTI_MODE = "multi_mode"
RAMP = "rampTms"  # hundredths of a second, on an event of any kind
# cactus's set-poll-rate resource → the program's field (PATCH /programs/{id}/).
POLL_RATE_FIELDS = {
    "DeviceCapability": "dcap_poll_rate_s",
    "EndDeviceList": "edev_list_poll_rate_s",
    "FunctionSetAssignmentsList": "fsa_list_poll_rate_s",
    "DERProgramList": "derp_list_poll_rate_s",
    "DERList": "der_list_poll_rate_s",
    "MirrorUsagePointList": "mup_list_poll_rate_s",
}
DEFAULT_SETTINGS = {
    "setESDelay": "set_es_delay",
    "setESHighFreq": "set_es_high_freq",
    "setESHighVolt": "set_es_high_volt",
    "setESLowFreq": "set_es_low_freq",
    "setESLowVolt": "set_es_low_volt",
    "setESRampTms": "set_es_ramp_tms",
    "setESRandomDelay": "set_es_random_delay",
    "setGradW": "set_grad_w",
    "setSoftGradW": "set_soft_grad_w",
    "rampTms": "ramp_tms",
}
DEFAULT_MODES = {**{name: field for name, (_, field, _) in MODES.items()}, **DEFAULT_SETTINGS}
IGNORED_PARAMS = {"status", "duration_seconds", "start_offset_seconds", "primacy"}
DEFAULT_DURATION_S = 300
# A scheduled control whose start the procedure leaves open starts this long from now.
SCHEDULED_LEAD_S = 60
LIVE = ("scheduled", "active")


class AdminUnsupported(Exception):
    """The server's API cannot set up what the procedure asks for."""


def _now() -> datetime:
    return datetime.now(UTC)


class Run:
    """One procedure run's state (the harness's file, plus what the plugin adds)."""

    def __init__(self, path: Path, api: Api | None = None):
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text())
        given = self.data["api"]
        self.api = api or Api(given["base_url"], given["token"], given.get("utility", ""))

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=2))

    @property
    def program(self) -> int:
        return self.data["program"]

    @property
    def group(self) -> int:
        return self.data["group"]

    def client(self, cactus_id: str) -> dict:
        try:
            return self.data["clients"][cactus_id]
        except KeyError as exc:
            raise AdminUnsupported(f"client {cactus_id!r} was not set up by the harness") from exc

    def fsa_programs(self) -> dict[str, dict]:
        """FSA annotation → {program, group}: the first is the run's sandbox program."""
        return self.data.setdefault("fsa_programs", {})

    def groups(self) -> list[int]:
        return [self.group] + [
            p["group"] for p in self.fsa_programs().values() if p["group"] != self.group
        ]

    def programs(self) -> list[int]:
        return [self.program] + [
            p["program"] for p in self.fsa_programs().values() if p["program"] != self.program
        ]

    def with_primacy(self, primacy) -> dict | None:
        """The FSA program (and its group) a procedure gave this primacy, if any."""
        if primacy is None:
            return None
        return next((p for p in self.fsa_programs().values() if p.get("primacy") == primacy), None)


class Actions:
    """The admin instructions, one method each, on the API only."""

    def __init__(self, run: Run):
        self.run = run
        self.api = run.api

    # --- EndDevices ------------------------------------------------------------------------

    def _end_devices(self, lfdi: str) -> list[dict]:
        return self.api.all(f"sep2/end-devices/?lfdi={lfdi}")

    def ensure_end_device(self, config, params: dict) -> str:
        ours = self.run.client(config.id)
        found = self._end_devices(config.lfdi)
        if not params.get("registered", True):
            for end_device in found:
                self.api.delete(f"sep2/end-devices/{end_device['id']}/")
            return f"deleted {len(found)} EndDevice(s) with LFDI {config.lfdi}"
        if found:
            end_device = found[0]
            if end_device["client"] != ours["client"]:
                raise AdminUnsupported(
                    f"LFDI {config.lfdi} is registered to another client; not touching it"
                )
            if end_device["pin"] != config.pin:
                self.api.patch(f"sep2/end-devices/{end_device['id']}/", {"pin": config.pin})
        else:
            end_device = self.api.post(
                "sep2/end-devices/",
                {
                    "lfdi": config.lfdi,
                    "sfdi": config.sfdi,
                    "pin": config.pin,
                    "client": ours["client"],
                },
            )
        if end_device.get("device"):
            for group in self.run.groups():
                self.api.post(f"dispatch-groups/{group}/members/", {"device": end_device["device"]})
        return f"EndDevice {end_device['id']} for LFDI {config.lfdi}"

    def _end_device(self, config) -> dict:
        found = self._end_devices(config.lfdi)
        if not found:
            raise AdminUnsupported(f"no EndDevice with LFDI {config.lfdi} is registered yet")
        return found[0]

    # --- MUPs, access ----------------------------------------------------------------------

    def ensure_mup_list_empty(self, config, params: dict) -> str:
        ours = self.run.client(config.id)
        cleared = self.api.post(f"sep2/clients/{ours['client']}/clear-mirror-usage-points/")
        return f"deleted {cleared['deleted']} MirrorUsagePoint(s) of client {ours['client']}"

    def set_client_access(self, config, params: dict) -> str:
        ours = self.run.client(config.id)
        verb = "restore" if params.get("granted", True) else "revoke"
        self.api.post(f"sep2/clients/{ours['client']}/{verb}/")
        return f"client {ours['client']}: {verb}"

    # --- programs, FSAs ----------------------------------------------------------------------

    def ensure_fsa(self, config, params: dict) -> str:
        annotation = params.get("annotation") or "default"
        fsas = self.run.fsa_programs()
        if annotation not in fsas:
            if not fsas:  # the first FSA is the run's own sandbox program
                fsas[annotation] = {"program": self.run.program, "group": self.run.group}
                # "Ensure" is an upsert: the FSA is saved, so its subscribers hear of it as
                # they would of a new one.
                self.api.patch(f"programs/{self.run.program}/", {"is_sandbox": True})
            else:
                program = self.api.post(
                    "programs/",
                    {
                        **self.run.data["program_fields"],
                        "name": f"{self.run.data['program_name']} {annotation}"[:120],
                        "slug": f"{self.run.data['program_slug']}-{len(fsas)}"[:60],
                    },
                )
                group = self.api.post(
                    "dispatch-groups/", {"program": program["id"], "name": annotation[:120]}
                )
                fsas[annotation] = {"program": program["id"], "group": group["id"]}
                self.run.save()
                for client_id in self.run.data["clients"]:
                    self._join(client_id, group["id"])
            self.run.save()
        if params.get("primacy") is not None:
            self.api.patch(
                f"programs/{fsas[annotation]['program']}/", {"primacy": params["primacy"]}
            )
            fsas[annotation]["primacy"] = params["primacy"]
            self.run.save()
        return f"FSA {annotation!r} = program {fsas[annotation]['program']}"

    def _join(self, cactus_id: str, group: int) -> None:
        lfdi = self.run.data["clients"][cactus_id]["lfdi"]
        for end_device in self._end_devices(lfdi):
            if end_device.get("device"):
                self.api.post(f"dispatch-groups/{group}/members/", {"device": end_device["device"]})

    def ensure_der_program(self, config, params: dict) -> str:
        annotation = params.get("fsa_annotation") or "default"
        fsas = self.run.fsa_programs()
        if annotation not in fsas:
            self.ensure_fsa(config, {"annotation": annotation})
        target = fsas[annotation]
        # An upsert, like ensure-fsa: the group is saved, so DERProgramList subscribers hear.
        group = self.api.get(f"dispatch-groups/{target['group']}/")
        self.api.patch(f"dispatch-groups/{target['group']}/", {"name": group["name"]})
        if params.get("primacy") is not None:
            self.api.patch(f"programs/{target['program']}/", {"primacy": params["primacy"]})
            target["primacy"] = params["primacy"]
            self.run.save()
        return f"DERProgram = group {target['group']} of program {target['program']}"

    def ensure_der_control_list(self, config, params: dict) -> str:
        group = self.api.get(f"dispatch-groups/{self.run.group}/")
        return f"DERControlList of group {group['id']} ({group['mrid']})"

    # --- controls --------------------------------------------------------------------------

    def _modes(self, params: dict, table: dict[str, str], what: str) -> dict[str, Any]:
        wanted = {k: v for k, v in params.items() if k not in IGNORED_PARAMS}
        unsupported = sorted(k for k in wanted if k not in table)
        if unsupported:
            raise AdminUnsupported(
                f"the API cannot create a {what} with {', '.join(unsupported)} "
                f"(supported: {', '.join(sorted(table))})"
            )
        if not wanted:
            raise AdminUnsupported(f"a {what} with no control mode")
        return wanted

    def create_der_control(self, config, params: dict) -> str:
        wanted = {k: v for k, v in params.items() if k != "randomizeStart_seconds"}
        randomize = int(params.get("randomizeStart_seconds") or 0)
        modes = self._modes(wanted, {**EVENT_MODES, RAMP: ""}, "DERControl")
        ramp = modes.pop(RAMP, None)
        if not modes:
            raise AdminUnsupported("a DERControl with a rampTms and no control mode")
        kind = MODES[next(iter(modes))][0] if len(modes) == 1 else MULTI_MODE
        values = {MODES[mode][1]: MODES[mode][2](value) for mode, value in modes.items()}
        if ramp is not None:
            values["ramp_tms"] = round(float(ramp))
        duration = int(params.get("duration_seconds") or DEFAULT_DURATION_S)
        status = params.get("status", "active")
        now = _now()
        if status == "active":
            offset = int(params.get("start_offset_seconds") or 0)
            starts = [now - timedelta(seconds=max(offset, 0) or 10), now + timedelta(seconds=3)]
        else:
            offset = params.get("start_offset_seconds")
            base = now + timedelta(seconds=int(offset)) if offset is not None else None
            last_end = self.run.data.get("last_scheduled_end")
            if base is None:
                base = now + timedelta(seconds=SCHEDULED_LEAD_S)
                if last_end:  # stacked sequentially, never overlapping
                    base = max(base, datetime.fromisoformat(last_end) + timedelta(seconds=10))
            starts = [base]
        # A control "with primacy N" goes to the DERProgram the procedure gave that primacy.
        target = self.run.with_primacy(params.get("primacy"))
        body = {
            "group": target["group"] if target else self.run.group,
            "kind": kind,
            "duration_s": duration,
            **values,
            "randomize_start_s": randomize,
            "is_test": True,
        }
        if params.get("primacy") is not None:
            body["primacy"] = params["primacy"]
        refusal = None
        for start in starts:
            try:
                event = self.api.post("events/", {**body, "start": start.isoformat()})
            except ApiError as exc:
                refusal = exc
                if exc.status == 400 and "notice" in exc.body and start is not starts[-1]:
                    logger.warning("start in the past refused (%s); starting now instead", exc.body)
                    continue
                if exc.status == 400 and "overlaps" in exc.body and status == "active":
                    # A new active control replaces the running one (2030.5: the newer
                    # event supersedes). The API supersedes only a scheduled event and
                    # says of a running one "cancel it first", so: cancel, then create.
                    self._cancel_live(body["group"])
                    event = self.api.post("events/", {**body, "start": start.isoformat()})
                    break
                raise
            break
        else:  # pragma: no cover - the loop raises or breaks
            raise refusal or AdminUnsupported("no start accepted")
        if status != "active":
            self.run.data["last_scheduled_end"] = (start + timedelta(seconds=duration)).isoformat()
        self.run.data.setdefault("events", []).append(event["id"])
        self.run.save()
        served = ", ".join(f"{field}={event[field]}" for field in values)
        return f"event {event['id']} ({event['kind']} {served} from {event['start']})"

    def create_default_der_control(self, config, params: dict) -> str:
        modes = self._modes(params, DEFAULT_MODES, "DefaultDERControl")
        fields = {
            DEFAULT_MODES[k]: MODES[k][2](v) if k in MODES else round(float(v))
            for k, v in modes.items()
        }
        # A default "with primacy N" goes to the DERProgram the procedure gave that primacy.
        target = self.run.with_primacy(params.get("primacy"))
        groups = [target["group"]] if target else self.run.groups()
        for group in groups:
            current = {}
            try:
                current = self.api.get(f"dispatch-groups/{group}/default-control/")
            except ApiError as exc:
                if exc.status != 404:
                    raise
            kept = {
                k: v
                for k, v in current.items()
                if k not in ("group", "changed_at") and v is not None
            }
            self.api.put(f"dispatch-groups/{group}/default-control/", {**kept, **fields})
        return f"DefaultDERControl of groups {groups}: {fields}"

    def _cancel_live(self, group) -> None:
        for program in self.run.programs():
            for status in LIVE:
                for event in self.api.all(f"events/?program={program}&status={status}"):
                    if str(event.get("group")) == str(group):
                        self.api.post(
                            f"events/{event['id']}/cancel/",
                            {"reason": "superseded by a newer control (conformance procedure)"},
                        )

    def clear_der_controls(self, config, params: dict) -> str:
        live = []
        for program in self.run.programs():
            for status in LIVE:
                live += self.api.all(f"events/?program={program}&status={status}")
        live.sort(key=lambda e: e["created_at"])
        chosen = live if params.get("all") else live[-1:]
        for event in chosen:
            self.api.post(f"events/{event['id']}/cancel/", {"reason": "conformance procedure"})
        return f"cancelled events {[e['id'] for e in chosen]}"

    # --- rates ------------------------------------------------------------------------------

    def set_poll_rate(self, config, params: dict) -> str:
        # A program has a pollRate per polled resource (blank: its poll_rate_s).
        resource = params["resource"]
        field = POLL_RATE_FIELDS.get(resource)
        if field is None:
            raise AdminUnsupported(f"the API sets no pollRate of its own on {resource}")
        rate = int(params["rate_seconds"])
        for program in self.run.programs():
            self.api.patch(f"programs/{program}/", {field: rate})
        return f"program {field} = {rate}"

    def set_post_rate(self, config, params: dict) -> str:
        end_device = self._end_device(config)
        rate = int(params["rate_seconds"])
        self.api.patch(f"sep2/end-devices/{end_device['id']}/", {"post_rate_s": rate})
        return f"EndDevice {end_device['id']} post_rate_s = {rate}"

    # --- teardown ---------------------------------------------------------------------------

    def teardown(self) -> str:
        """Cancel what is still live in the run's programs (the beat stops driving them)."""
        cancelled = []
        for program in self.run.programs():
            for status in LIVE:
                for event in self.api.all(f"events/?program={program}&status={status}"):
                    try:
                        self.api.post(f"events/{event['id']}/cancel/", {"reason": "run ended"})
                        cancelled.append(event["id"])
                    except ApiError as exc:
                        logger.warning("teardown: %s", exc)
        return f"cancelled {cancelled}"
