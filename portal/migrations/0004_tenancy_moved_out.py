"""Utilities, brands, territories and memberships moved to the tenancy app: drop them from portal's state (the tables stay; tenancy owns them now)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('settlement', '0002_utility_in_tenancy'),
        ('devices', '0008_utility_in_tenancy'),
        ('protocol', '0004_utility_in_tenancy'),
        ('enrollment', '0007_utility_in_tenancy'),
        ('programs', '0003_utility_in_tenancy'),
        ('portal', '0003_constraint_messages'),
        ('tenancy', '0001_tenancy_moved_from_portal'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='membership',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='membership',
                    name='utility',
                ),
                migrations.RemoveField(
                    model_name='territoryarea',
                    name='utility',
                ),
                migrations.AlterField(
                    model_name='alert',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alerts', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='alertrule',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='alert_rules', to='tenancy.utility'),
                ),
                migrations.DeleteModel(
                    name='Brand',
                ),
                migrations.DeleteModel(
                    name='Membership',
                ),
                migrations.DeleteModel(
                    name='TerritoryArea',
                ),
                migrations.DeleteModel(
                    name='Utility',
                ),
            ],
            database_operations=[],
        ),
    ]
