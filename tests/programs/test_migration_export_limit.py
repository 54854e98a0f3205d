"""Migration 0010: export limits move into the control base with no data lost, both ways."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("programs", "0009_program_change")]
AFTER = [("programs", "0010_export_limit_as_control")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_export_limits_and_program_defaults_move_into_the_control_base_and_back():
    old = _migrate(BEFORE)
    utility = old.get_model("tenancy", "Utility").objects.create(name="Mig Power", slug="mig")
    Program = old.get_model("programs", "Program")
    limited = Program.objects.create(
        utility=utility, name="Limited", slug="limited", default_export_limit_w=3500
    )
    free = Program.objects.create(utility=utility, name="Free", slug="free")
    Group = old.get_model("programs", "DispatchGroup")
    north = Group.objects.create(utility=utility, program=limited, name="North", mrid="A" * 32)
    south = Group.objects.create(utility=utility, program=limited, name="South", mrid="B" * 32)
    free_group = Group.objects.create(utility=utility, program=free, name="All", mrid="C" * 32)
    # A default that already limits export keeps its own limit.
    old.get_model("programs", "DefaultControl").objects.create(
        utility=utility, group=south, op_mod_exp_lim_w=1200, set_grad_w=20
    )
    Event = old.get_model("programs", "Event")
    start = datetime(2026, 7, 1, 17, tzinfo=UTC)
    common = {"utility": utility, "program": limited, "group": north, "start": start}
    limit = Event.objects.create(
        kind="export_limit", duration_s=600, target_w=2500, mrid="D" * 32, **common
    )
    discharge = Event.objects.create(
        kind="discharge", duration_s=600, target_w=9000, mrid="E" * 32, **common
    )

    new = _migrate(AFTER)
    Event = new.get_model("programs", "Event")
    DefaultControl = new.get_model("programs", "DefaultControl")
    moved = Event.objects.get(pk=limit.pk)
    assert (moved.op_mod_exp_lim_w, moved.target_w) == (2500, None)
    kept = Event.objects.get(pk=discharge.pk)
    assert (kept.target_w, kept.op_mod_exp_lim_w) == (9000, None)
    defaults = {d.group_id: d for d in DefaultControl.objects.all()}
    assert defaults[north.pk].op_mod_exp_lim_w == 3500
    assert (defaults[south.pk].op_mod_exp_lim_w, defaults[south.pk].set_grad_w) == (1200, 20)
    assert free_group.pk not in defaults
    assert "default_export_limit_w" not in {
        f.name for f in new.get_model("programs", "Program")._meta.get_fields()
    }

    back = _migrate(BEFORE)
    assert back.get_model("programs", "Event").objects.get(pk=limit.pk).target_w == 2500
    Program = back.get_model("programs", "Program")
    assert Program.objects.get(pk=limited.pk).default_export_limit_w == 3500
    assert Program.objects.get(pk=free.pk).default_export_limit_w is None

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
