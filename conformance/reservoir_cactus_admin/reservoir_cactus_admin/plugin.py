"""cactus-client admin plugin: each admin instruction carried out through Reservoir's /api/v1
(actions.py).

The harness writes a state file per procedure run (its sandbox program and dispatch group,
the API address and token, and which Reservoir 2030.5 client each cactus client id is) and
names it in RESERVOIR_CACTUS_STATE. Without that variable this plugin does nothing, so a
plain `cactus run` against another server is unaffected.

An instruction the API cannot carry out raises AdminUnsupported with the reason: the
procedure then fails at that step, and the harness's table shows why (an API gap, not a
silent pass).
"""

import asyncio
import logging
import os
from pathlib import Path

from cactus_client.admin import hookimpl
from cactus_client.model.execution import ActionResult

from reservoir_cactus_admin.actions import Actions, AdminUnsupported, Run
from reservoir_cactus_admin.api import ApiError

logger = logging.getLogger(__name__)
STATE_ENV = "RESERVOIR_CACTUS_STATE"


def _run() -> Run | None:
    path = os.environ.get(STATE_ENV)
    return Run(Path(path)) if path else None


class ReservoirAdminPlugin:
    """Registered under the `cactus_client.admin` entry point."""

    @hookimpl
    async def admin_setup(self, context) -> ActionResult:
        run = _run()
        if run is None:
            return ActionResult.done()
        run.data["procedure"] = str(context.test_procedure_id)
        run.save()
        return ActionResult.done()

    @hookimpl
    async def admin_teardown(self, context) -> ActionResult:
        run = _run()
        if run is None:
            return ActionResult.done()
        done = await asyncio.to_thread(Actions(run).teardown)
        logger.info("[reservoir-admin] teardown: %s", done)
        return ActionResult.done()

    @hookimpl
    async def admin_instruction(self, instruction, step, context) -> ActionResult | None:
        run = _run()
        if run is None:
            return None
        config = context.client_config_for(instruction.client)
        kind = str(
            instruction.type.value if hasattr(instruction.type, "value") else instruction.type
        )
        method = getattr(Actions(run), kind.replace("-", "_"), None)
        if method is None:
            raise AdminUnsupported(f"no handler for admin instruction {kind}")
        try:
            done = await asyncio.to_thread(method, config, dict(instruction.parameters or {}))
        except ApiError as exc:
            raise AdminUnsupported(f"{kind}: the API refused: {exc}") from exc
        logger.info("[reservoir-admin] %s %s: %s", kind, instruction.parameters, done)
        run.data.setdefault("admin_log", []).append(f"{kind}: {done}")
        run.save()
        return ActionResult.done()
