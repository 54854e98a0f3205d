"""Utility moved from portal to tenancy: the foreign keys now name tenancy.Utility (same table, so state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0007_device_list_search_indexes'),
        ('tenancy', '0001_tenancy_moved_from_portal'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='connectorcommand',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='connectorsite',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='device',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='devices', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='fleetrollup',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='telemetryrollup',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='telemetryrolluppending',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='telemetrysample',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
            ],
            database_operations=[],
        ),
    ]
