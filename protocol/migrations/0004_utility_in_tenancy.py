"""Utility moved from portal to tenancy: the foreign keys now name tenancy.Utility (same table, so state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('protocol', '0003_client_outage_and_six_digit_pin'),
        ('tenancy', '0001_tenancy_moved_from_portal'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='client',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='controlresponse',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='enddevice',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='exchangerecord',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='logevent',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='mirrormeterreading',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='mirrorusagepoint',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='subscription',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
            ],
            database_operations=[],
        ),
    ]
