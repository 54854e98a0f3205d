"""Utility moved from portal to tenancy: the foreign keys now name tenancy.Utility (same table, so state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0002_constraint_messages'),
        ('tenancy', '0001_tenancy_moved_from_portal'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='blackoutdate',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='dispatch',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='dispatchgroup',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='event',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='eventtransition',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='optout',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='participant',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='program',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='programs', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='qualifiedequipment',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='season',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
            ],
            database_operations=[],
        ),
    ]
