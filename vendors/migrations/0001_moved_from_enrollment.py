"""Vendors takes over the vendor organisation, membership, product, contact, application,
CA, issued-certificate and conformance-run tables that enrollment created.

State only, so existing rows stay where they are; 0002 renames the tables. Content types (and
so permissions and admin history) move with the models."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = [
    "vendororganization",
    "vendormembership",
    "productmodel",
    "vendorcontact",
    "vendorapplication",
    "certificateauthority",
    "issuedcertificate",
    "conformancerun",
]


def _relabel(apps, old, new):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)


def content_types_from_enrollment(apps, schema_editor):
    _relabel(apps, "enrollment", "vendors")


def content_types_to_enrollment(apps, schema_editor):
    _relabel(apps, "vendors", "enrollment")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('enrollment', '0007_utility_in_tenancy'),
        ('programs', '0003_utility_in_tenancy'),
        ('tenancy', '0002_tables_renamed'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='CertificateAuthority',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=[('root', 'Root (SERCA-like)'), ('intermediate', 'Intermediate (MICA-like)')], max_length=16)),
                        ('common_name', models.CharField(max_length=64)),
                        ('certificate_pem', models.TextField()),
                        ('encrypted_key', models.TextField(editable=False, help_text='Fernet token; never shown.')),
                        ('not_after', models.DateTimeField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='vendors.certificateauthority')),
                        ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility')),
                    ],
                    options={
                        'db_table': 'enrollment_certificateauthority',
                        'ordering': ['pk'],
                    },
                ),
                migrations.CreateModel(
                    name='VendorApplication',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('draft', 'Draft'), ('submitted', 'Submitted'), ('testing', 'Testing'), ('passed', 'Passed conformance'), ('approved', 'Approved'), ('rejected', 'Rejected')], default='draft', max_length=16)),
                        ('documents_uploaded', models.BooleanField(default=False)),
                        ('certificate_issued', models.BooleanField(default=False)),
                        ('conformance_passed', models.BooleanField(default=False)),
                        ('approved', models.BooleanField(default=False)),
                        ('approved_at', models.DateTimeField(blank=True, null=True)),
                        ('approved_run_id', models.PositiveIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('program', models.ForeignKey(help_text='The target.', on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
                        ('sandbox_program', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='programs.program')),
                        ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility')),
                    ],
                    options={
                        'db_table': 'enrollment_vendorapplication',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='IssuedCertificate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(help_text='aggregator or device', max_length=16)),
                        ('lfdi', models.CharField(max_length=40, verbose_name='LFDI')),
                        ('sfdi', models.BigIntegerField(verbose_name='SFDI')),
                        ('serial', models.CharField(help_text='Hex serial number.', max_length=40)),
                        ('not_after', models.DateTimeField()),
                        ('pem', models.TextField()),
                        ('revoked', models.BooleanField(default=False)),
                        ('revoked_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('authority', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='vendors.certificateauthority')),
                        ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility')),
                        ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='certificates', to='vendors.vendorapplication')),
                    ],
                    options={
                        'db_table': 'enrollment_issuedcertificate',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='ConformanceRun',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('procedures', models.JSONField(default=list, help_text='Procedure keys, in order.')),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('passed', 'Passed'), ('failed', 'Failed'), ('error', 'Error')], default='queued', max_length=16)),
                        ('progress_pct', models.PositiveSmallIntegerField(default=0)),
                        ('time_scale', models.FloatField(default=1.0, help_text='Multiplies every wait; below 1 runs faster than real time.')),
                        ('parameters', models.JSONField(blank=True, default=dict)),
                        ('cursor', models.JSONField(blank=True, default=dict)),
                        ('results', models.JSONField(blank=True, default=dict)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenancy.utility')),
                        ('certificate', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='vendors.issuedcertificate')),
                        ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='vendors.vendorapplication')),
                    ],
                    options={
                        'db_table': 'enrollment_conformancerun',
                        'ordering': ['-created_at'],
                    },
                ),
                migrations.CreateModel(
                    name='VendorOrganization',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200, unique=True)),
                        ('slug', models.SlugField(max_length=60, unique=True)),
                        ('kind', models.CharField(choices=[('vendor', 'Battery vendor'), ('aggregator', 'Aggregator')], default='vendor', max_length=16)),
                        ('status', models.CharField(choices=[('pending', 'Awaiting approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('suspended', 'Suspended')], default='pending', max_length=16)),
                        ('website', models.URLField(blank=True)),
                        ('status_reason', models.CharField(blank=True, help_text='Why it was rejected or suspended; shown to it.', max_length=500)),
                        ('status_changed_at', models.DateTimeField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('status_changed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'enrollment_vendororganization',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='VendorMembership',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=[('admin', 'Administrator'), ('engineer', 'Engineer'), ('viewer', 'Viewer (read-only)')], default='engineer', max_length=16)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='vendor_memberships', to=settings.AUTH_USER_MODEL)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='members', to='vendors.vendororganization')),
                    ],
                    options={
                        'db_table': 'enrollment_vendormembership',
                    },
                ),
                migrations.CreateModel(
                    name='VendorContact',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('email', models.EmailField(max_length=254)),
                        ('phone', models.CharField(blank=True, max_length=32)),
                        ('kind', models.CharField(choices=[('technical', 'Technical'), ('business', 'Business'), ('security', 'Security')], default='technical', max_length=16)),
                        ('topic', models.CharField(blank=True, help_text='e.g. firmware, billing', max_length=60)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='vendors.vendororganization')),
                    ],
                    options={
                        'db_table': 'enrollment_vendorcontact',
                        'ordering': ['kind', 'name'],
                    },
                ),
                migrations.AddField(
                    model_name='vendorapplication',
                    name='organization',
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='applications', to='vendors.vendororganization'),
                ),
                migrations.CreateModel(
                    name='ProductModel',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('vendor_name', models.CharField(max_length=120)),
                        ('model_name', models.CharField(max_length=120)),
                        ('power_kw', models.DecimalField(decimal_places=2, max_digits=7, verbose_name='kW')),
                        ('energy_kwh', models.DecimalField(decimal_places=2, max_digits=7, verbose_name='kWh')),
                        ('chemistry', models.CharField(blank=True, max_length=40)),
                        ('firmware', models.CharField(blank=True, max_length=60)),
                        ('client_type', models.CharField(choices=[('native', 'Native 2030.5 device'), ('gateway', 'Site gateway'), ('aggregator', 'Cloud aggregator')], default='native', max_length=16)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='products', to='vendors.vendororganization')),
                    ],
                    options={
                        'db_table': 'enrollment_productmodel',
                        'ordering': ['vendor_name', 'model_name'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='certificateauthority',
                    constraint=models.UniqueConstraint(fields=('utility', 'role'), name='one_ca_per_role'),
                ),
                migrations.AddConstraint(
                    model_name='issuedcertificate',
                    constraint=models.UniqueConstraint(fields=('lfdi',), name='issued_certificate_unique_lfdi'),
                ),
                migrations.AddConstraint(
                    model_name='conformancerun',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'running', 'passed', 'failed', 'error'])), name='run_status_valid'),
                ),
                migrations.AddConstraint(
                    model_name='vendororganization',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'approved', 'rejected', 'suspended'])), name='vendor_status_valid'),
                ),
                migrations.AddConstraint(
                    model_name='vendororganization',
                    constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['vendor', 'aggregator'])), name='vendor_kind_valid'),
                ),
                migrations.AddConstraint(
                    model_name='vendormembership',
                    constraint=models.UniqueConstraint(fields=('organization', 'user'), name='vendor_membership_unique'),
                ),
                migrations.AddConstraint(
                    model_name='vendormembership',
                    constraint=models.CheckConstraint(condition=models.Q(('role__in', ['admin', 'engineer', 'viewer'])), name='vendor_role_valid'),
                ),
                migrations.AddConstraint(
                    model_name='vendorcontact',
                    constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['technical', 'business', 'security'])), name='vendor_contact_kind_valid'),
                ),
                migrations.AddConstraint(
                    model_name='vendorapplication',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['draft', 'submitted', 'testing', 'passed', 'approved', 'rejected'])), name='application_status_valid'),
                ),
                migrations.AddConstraint(
                    model_name='productmodel',
                    constraint=models.UniqueConstraint(fields=('organization', 'vendor_name', 'model_name'), name='product_once_per_org'),
                ),
            ],
            database_operations=[migrations.RunPython(content_types_from_enrollment, content_types_to_enrollment)],
        ),
    ]
