"""The tenancy tables take the tenancy app's names (portal_utility -> tenancy_utility, ...)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("tenancy", "0001_tenancy_moved_from_portal"),
        ("portal", "0004_tenancy_moved_out"),
    ]

    operations = [
        migrations.AlterModelTable(name=name, table=None)
        for name in ("utility", "brand", "territoryarea", "membership")
    ]
