import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices.connectors.sunspec.client import BackoffState


def test_backoff_doubles_up_to_the_cap_and_resets_on_success():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    state = BackoffState()
    assert state.due(now)
    delays = []
    for _ in range(8):
        next_at = state.record_failure(now, "refused", base_s=5.0, max_s=60.0)
        delays.append((next_at - now).total_seconds())
    assert delays == [5, 10, 20, 40, 60, 60, 60, 60]
    assert not state.due(now + timedelta(seconds=59))
    assert state.due(now + timedelta(seconds=60))
    assert state.failures == 8
    state.record_success()
    assert state.failures == 0
    assert state.due(now)


def test_codecs_and_physics_do_not_pull_in_pymodbus():
    # The Django side may use these; only the client and the simulator talk Modbus.
    code = (
        "import sys\n"
        "import devices.connectors.sunspec.codec, devices.connectors.sunspec.discovery\n"
        "import devices.simulator.battery\n"
        "assert 'pymodbus' not in sys.modules, 'pymodbus was imported'\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[3], timeout=30
    )
