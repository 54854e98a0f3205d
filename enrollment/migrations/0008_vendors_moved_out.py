"""Vendor organisations and their onboarding moved to the vendors app: drop them from
enrollment's state (the tables stay; vendors owns them now)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('vendors', '0001_moved_from_enrollment'),
        ('enrollment', '0007_utility_in_tenancy'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='issuedcertificate',
                    name='authority',
                ),
                migrations.RemoveField(
                    model_name='conformancerun',
                    name='application',
                ),
                migrations.RemoveField(
                    model_name='conformancerun',
                    name='certificate',
                ),
                migrations.RemoveField(
                    model_name='conformancerun',
                    name='started_by',
                ),
                migrations.RemoveField(
                    model_name='conformancerun',
                    name='utility',
                ),
                migrations.RemoveField(
                    model_name='issuedcertificate',
                    name='application',
                ),
                migrations.RemoveField(
                    model_name='issuedcertificate',
                    name='utility',
                ),
                migrations.RemoveField(
                    model_name='productmodel',
                    name='organization',
                ),
                migrations.RemoveField(
                    model_name='vendorapplication',
                    name='approved_by',
                ),
                migrations.RemoveField(
                    model_name='vendorapplication',
                    name='organization',
                ),
                migrations.RemoveField(
                    model_name='vendorapplication',
                    name='program',
                ),
                migrations.RemoveField(
                    model_name='vendorapplication',
                    name='sandbox_program',
                ),
                migrations.RemoveField(
                    model_name='vendorapplication',
                    name='utility',
                ),
                migrations.RemoveField(
                    model_name='vendorcontact',
                    name='organization',
                ),
                migrations.RemoveField(
                    model_name='vendormembership',
                    name='organization',
                ),
                migrations.RemoveField(
                    model_name='vendormembership',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='vendororganization',
                    name='status_changed_by',
                ),
                migrations.DeleteModel(
                    name='CertificateAuthority',
                ),
                migrations.DeleteModel(
                    name='ConformanceRun',
                ),
                migrations.DeleteModel(
                    name='IssuedCertificate',
                ),
                migrations.DeleteModel(
                    name='ProductModel',
                ),
                migrations.DeleteModel(
                    name='VendorApplication',
                ),
                migrations.DeleteModel(
                    name='VendorContact',
                ),
                migrations.DeleteModel(
                    name='VendorMembership',
                ),
                migrations.DeleteModel(
                    name='VendorOrganization',
                ),
            ],
            database_operations=[],
        ),
    ]
