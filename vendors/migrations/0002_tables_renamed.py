"""The vendors tables take the vendors app's names (enrollment_vendororganization ->
vendors_vendororganization, ...)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("vendors", "0001_moved_from_enrollment"),
        ("enrollment", "0008_vendors_moved_out"),
    ]

    operations = [
        migrations.AlterModelTable(name=name, table=None)
        for name in (
            "vendororganization",
            "vendormembership",
            "productmodel",
            "vendorcontact",
            "vendorapplication",
            "certificateauthority",
            "issuedcertificate",
            "conformancerun",
        )
    ]
