"""Utility moved from portal to tenancy: the foreign keys now name tenancy.Utility (same table, so state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('settlement', '0001_settlement_rules_results_payments'),
        ('tenancy', '0001_tenancy_moved_from_portal'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='adjustment',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='customerpayment',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='eventresult',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='payee',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='paymentbatch',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='paymentline',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='reconciliationrun',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='seasonsettlement',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='settlementrules',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
            ],
            database_operations=[],
        ),
    ]
