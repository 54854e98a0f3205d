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

# DERControl modes the API can create today (event kind), and DefaultDERControl modes it
# can set (program field). Everything else is reported as unsupported.
EVENT_MODES = {"opModExpLimW": "export_limit"}
DEFAULT_MODES = {"opModExpLimW": "default_export_limit_w"}
IGNORED_PARAMS = {"status", "duration_seconds", "start_offset_seconds", "primacy"}
DEFAULT_DURATION_S = 300
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
        modes = self._modes(wanted, EVENT_MODES, "DERControl")
        (mode, value), *rest = modes.items()
        if rest:
            raise AdminUnsupported(f"the API creates one control mode per event, not {list(modes)}")
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
                base = now + timedelta(seconds=60)
                if last_end:  # stacked sequentially, never overlapping
                    base = max(base, datetime.fromisoformat(last_end) + timedelta(seconds=10))
            starts = [base]
        # A control "with primacy N" goes to the DERProgram the procedure gave that primacy.
        target = self.run.with_primacy(params.get("primacy"))
        body = {
            "group": target["group"] if target else self.run.group,
            "kind": EVENT_MODES[mode],
            "duration_s": duration,
            "target_w": round(float(value)),
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
                raise
            break
        else:  # pragma: no cover - the loop raises or breaks
            raise refusal or AdminUnsupported("no start accepted")
        if status != "active":
            self.run.data["last_scheduled_end"] = (start + timedelta(seconds=duration)).isoformat()
        self.run.data.setdefault("events", []).append(event["id"])
        self.run.save()
        return f"event {event['id']} ({event['kind']} {event['target_w']} W from {event['start']})"

    def create_default_der_control(self, config, params: dict) -> str:
        modes = self._modes(params, DEFAULT_MODES, "DefaultDERControl")
        fields = {DEFAULT_MODES[k]: round(float(v)) for k, v in modes.items()}
        target = self.run.with_primacy(params.get("primacy"))
        programs = [target["program"]] if target else self.run.programs()
        for program in programs:
            self.api.patch(f"programs/{program}/", fields)
        return f"programs {programs}: {fields}"

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
        # The API has one poll rate per program (issue 22 item 3 asks for one per resource).
        rate = int(params["rate_seconds"])
        for program in self.run.programs():
            self.api.patch(f"programs/{program}/", {"poll_rate_s": rate})
        return f"program poll_rate_s = {rate} (asked for {params['resource']})"

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
