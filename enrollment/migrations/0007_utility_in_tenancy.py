"""Utility moved from portal to tenancy: the foreign keys now name tenancy.Utility (same table, so state only)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('enrollment', '0006_conformance_run_parameters'),
        ('tenancy', '0001_tenancy_moved_from_portal'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='accountwhitelist',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='certificateauthority',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='conformancerun',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='customer',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='customers', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='eligibilityresult',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='eligibilityrules',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='enrollment',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='enrollments', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='enrollmentdraft',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='enrollmenttransition',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='incentiverates',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='issuedcertificate',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='programterms',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
                migrations.AlterField(
                    model_name='vendorapplication',
                    name='utility',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility'),
                ),
            ],
            database_operations=[],
        ),
    ]
