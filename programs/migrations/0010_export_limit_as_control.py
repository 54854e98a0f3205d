"""An export limit's value moves into the control base, and a program's default export limit
becomes each of its groups' DefaultControl (one truth for what a DER does by default).

Forward: an export_limit event's target_w → op_mod_exp_lim_w (target_w is kept only for the
planned kinds, discharge and charge); Program.default_export_limit_w → op_mod_exp_lim_w of
a DefaultControl per group of the program (an existing default keeps a limit it already
has). Backward: the reverse, a program taking the largest of its groups' default limits.
"""

from django.db import migrations, models


def forward(apps, schema_editor):
    Event = apps.get_model("programs", "Event")
    Program = apps.get_model("programs", "Program")
    DispatchGroup = apps.get_model("programs", "DispatchGroup")
    DefaultControl = apps.get_model("programs", "DefaultControl")
    for event in Event.objects.filter(kind="export_limit", target_w__isnull=False):
        if event.op_mod_exp_lim_w is None:
            event.op_mod_exp_lim_w = event.target_w
        event.target_w = None
        event.save(update_fields=["op_mod_exp_lim_w", "target_w"])
    for program in Program.objects.filter(default_export_limit_w__isnull=False):
        for group in DispatchGroup.objects.filter(program=program):
            default = DefaultControl.objects.filter(group=group).first()
            if default is None:
                default = DefaultControl(utility_id=group.utility_id, group=group)
            if default.op_mod_exp_lim_w is None:
                default.op_mod_exp_lim_w = program.default_export_limit_w
                default.save()


def backward(apps, schema_editor):
    Event = apps.get_model("programs", "Event")
    Program = apps.get_model("programs", "Program")
    DefaultControl = apps.get_model("programs", "DefaultControl")
    for event in Event.objects.filter(kind="export_limit", op_mod_exp_lim_w__isnull=False):
        event.target_w = event.op_mod_exp_lim_w
        event.save(update_fields=["target_w"])
    for program in Program.objects.all():
        limits = DefaultControl.objects.filter(
            group__program=program, op_mod_exp_lim_w__isnull=False
        ).values_list("op_mod_exp_lim_w", flat=True)
        if limits:
            program.default_export_limit_w = max(limits)
            program.save(update_fields=["default_export_limit_w"])


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0009_program_change"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="event",
            name="event_export_limit_has_target",
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(
            model_name="program",
            name="default_export_limit_w",
        ),
        migrations.AlterField(
            model_name="event",
            name="target_w",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Discharge and charge: the group target magnitude in W (sign comes "
                "from kind). Other kinds carry their values in their modes.",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "export_limit"), _negated=True),
                    ("op_mod_exp_lim_w__isnull", False),
                    _connector="OR",
                ),
                name="event_export_limit_has_limit",
                violation_error_message="An export limit needs a limit in W.",
            ),
        ),
    ]
