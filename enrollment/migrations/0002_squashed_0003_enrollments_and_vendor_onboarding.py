"""Enrollments, eligibility and terms, and vendor onboarding: the two 0002 migrations and
their merge (0003), squashed. Databases that applied those three keep working: `replaces`."""

import django.core.validators
import django.db.models.deletion
import enrollment.models
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    replaces = [
        ('enrollment', '0002_enrollments_eligibility_terms'),
        ('enrollment', '0002_vendor_onboarding'),
        ('enrollment', '0003_merge_enrollments_and_vendor_onboarding'),
    ]

    dependencies = [
        ('devices', '0004_programs_events_dispatch'),
        ('enrollment', '0001_customers_and_vendors'),
        ('portal', '0002_alerts'),
        ('programs', '0001_programs_events_dispatch'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Enrollment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('email', models.EmailField(help_text='Where notices about this enrollment go.', max_length=254)),
                ('street', models.CharField(max_length=200)),
                ('city', models.CharField(max_length=100)),
                ('state_code', models.CharField(max_length=2, validators=[django.core.validators.RegexValidator('^[A-Za-z]{2}$', 'Use a two-letter state code, e.g. OR.')], verbose_name='US state')),
                ('zip_code', models.CharField(max_length=10, validators=[django.core.validators.RegexValidator('^[0-9]{5}(-[0-9]{4})?$', 'Use a 5-digit ZIP code, e.g. 97201.')], verbose_name='ZIP code')),
                ('site_key', models.CharField(editable=False, max_length=400)),
                ('account_number', models.CharField(max_length=32)),
                ('vendor_name', models.CharField(max_length=120)),
                ('model_name', models.CharField(max_length=120)),
                ('serial', models.CharField(max_length=120)),
                ('install_date', models.DateField()),
                ('has_solar', models.BooleanField(default=False)),
                ('solar_kw', models.DecimalField(blank=True, decimal_places=2, max_digits=6, null=True)),
                ('state', models.CharField(choices=[('submitted', 'Submitted'), ('eligible', 'Eligible'), ('ineligible', 'Ineligible'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('device_linked', 'Device linked'), ('telemetry_verified', 'Telemetry verified'), ('active', 'Active'), ('withdrawn', 'Withdrawn'), ('terminated', 'Terminated')], default='submitted', max_length=20)),
                ('state_reason', models.CharField(blank=True, max_length=500)),
                ('state_changed_at', models.DateTimeField()),
                ('incentive_upfront', models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('participation_credit_per_kw', models.DecimalField(blank=True, decimal_places=2, max_digits=8, null=True, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('credit_period', models.CharField(blank=True, choices=[('monthly', 'Monthly'), ('annual', 'Annual')], max_length=8)),
                ('submitted_at', models.DateTimeField()),
                ('approved_at', models.DateTimeField(blank=True, null=True)),
                ('activated_at', models.DateTimeField(blank=True, null=True)),
                ('customer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='enrollments', to='enrollment.customer')),
                ('device', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='enrollments', to='devices.device')),
                ('equipment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='programs.qualifiedequipment')),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='enrollments', to='programs.program')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='enrollments', to='portal.utility')),
            ],
            options={
                'ordering': ['-submitted_at'],
            },
        ),
        migrations.CreateModel(
            name='EnrollmentTransition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('from_state', models.CharField(blank=True, choices=[('submitted', 'Submitted'), ('eligible', 'Eligible'), ('ineligible', 'Ineligible'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('device_linked', 'Device linked'), ('telemetry_verified', 'Telemetry verified'), ('active', 'Active'), ('withdrawn', 'Withdrawn'), ('terminated', 'Terminated')], max_length=20)),
                ('to_state', models.CharField(choices=[('submitted', 'Submitted'), ('eligible', 'Eligible'), ('ineligible', 'Ineligible'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('device_linked', 'Device linked'), ('telemetry_verified', 'Telemetry verified'), ('active', 'Active'), ('withdrawn', 'Withdrawn'), ('terminated', 'Terminated')], max_length=20)),
                ('actor_label', models.CharField(max_length=120)),
                ('reason', models.CharField(blank=True, max_length=500)),
                ('at', models.DateTimeField()),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                ('enrollment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='transitions', to='enrollment.enrollment')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
                'ordering': ['at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='ProgramTerms',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version', models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1)])),
                ('body', models.TextField()),
                ('published_at', models.DateTimeField(blank=True, help_text='Blank while a draft; the newest published one is shown.', null=True)),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='terms_versions', to='programs.program')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
                'verbose_name_plural': 'program terms',
                'ordering': ['program', '-version'],
            },
        ),
        migrations.AddField(
            model_name='enrollment',
            name='terms',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='enrollment.programterms'),
        ),
        migrations.CreateModel(
            name='AccountWhitelist',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('account_number', models.CharField(max_length=32)),
                ('medical_baseline', models.BooleanField(default=False)),
                ('excluded', models.BooleanField(default=False)),
                ('exclusion_reason', models.CharField(blank=True, max_length=200)),
                ('preapproved', models.BooleanField(default=False, help_text='May exceed the batteries-per-site limit.')),
                ('imported_at', models.DateTimeField(auto_now_add=True)),
                ('program', models.ForeignKey(blank=True, help_text='Blank: the account is listed for every program.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
                'verbose_name_plural': 'account whitelist',
                'ordering': ['account_number'],
                'constraints': [models.UniqueConstraint(fields=('utility', 'account_number', 'program'), name='whitelist_unique'), models.UniqueConstraint(condition=models.Q(('program__isnull', True)), fields=('utility', 'account_number'), name='whitelist_unique_all_programs')],
            },
        ),
        migrations.CreateModel(
            name='EligibilityRules',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('account_number_regex', models.CharField(default='[0-9]{8,12}', help_text='The whole account number must match.', max_length=200)),
                ('account_number_hint', models.CharField(default='8 to 12 digits, as printed on your bill', max_length=120)),
                ('whitelist_required', models.BooleanField(default=False, help_text='Only accounts on the imported list may enroll.')),
                ('min_kw', models.DecimalField(decimal_places=2, default=Decimal('0'), max_digits=6)),
                ('min_kwh', models.DecimalField(decimal_places=2, default=Decimal('0'), max_digits=7)),
                ('max_batteries_per_site', models.PositiveSmallIntegerField(default=1, help_text='More than this at one site needs pre-approval.')),
                ('honour_exclusions', models.BooleanField(default=True, help_text='Accounts flagged as excluded on the list are ineligible.')),
                ('exclude_medical_baseline', models.BooleanField(default=False)),
                ('verification_window_h', models.PositiveIntegerField(default=24, help_text='Telemetry must be this fresh to verify a linked device.', validators=[django.core.validators.MinValueValidator(1)])),
                ('conflicting_programs', models.ManyToManyField(blank=True, help_text='An open enrollment in one of these makes the site ineligible.', related_name='+', to='programs.program')),
                ('program', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='eligibility_rules', to='programs.program')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
                'verbose_name_plural': 'eligibility rules',
                'constraints': [models.CheckConstraint(condition=models.Q(('min_kw__gte', 0), ('min_kwh__gte', 0)), name='eligibility_minimums_positive'), models.CheckConstraint(condition=models.Q(('verification_window_h__gte', 1)), name='eligibility_window_positive')],
            },
        ),
        migrations.CreateModel(
            name='EligibilityResult',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('rule', models.CharField(choices=[('territory', 'In the service territory'), ('account_format', 'Account number well-formed'), ('whitelist', "Account on the program's list"), ('qualified_model', 'Battery model qualified'), ('min_kw', 'Minimum power (kW)'), ('min_kwh', 'Minimum energy (kWh)'), ('not_enrolled', 'Not already enrolled'), ('conflicting_program', 'No conflicting program'), ('exclusion', 'No exclusion flag'), ('batteries_per_site', 'Batteries per site')], max_length=32)),
                ('passed', models.BooleanField()),
                ('reason', models.CharField(max_length=500)),
                ('checked_at', models.DateTimeField()),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
                ('enrollment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='eligibility_results', to='enrollment.enrollment')),
            ],
            options={
                'ordering': ['enrollment', 'id'],
                'constraints': [models.UniqueConstraint(fields=('enrollment', 'rule'), name='eligibility_result_once'), models.CheckConstraint(condition=models.Q(('rule__in', ['territory', 'account_format', 'whitelist', 'qualified_model', 'min_kw', 'min_kwh', 'not_enrolled', 'conflicting_program', 'exclusion', 'batteries_per_site'])), name='eligibility_rule_valid')],
            },
        ),
        migrations.CreateModel(
            name='EnrollmentDraft',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token', models.CharField(default=enrollment.models._draft_token, editable=False, max_length=32, unique=True)),
                ('data', models.JSONField(blank=True, default=dict)),
                ('step', models.PositiveSmallIntegerField(default=1)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('program', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
                'ordering': ['-updated_at'],
                'constraints': [models.CheckConstraint(condition=models.Q(('step__gte', 1), ('step__lte', 4)), name='enrollment_draft_step_range')],
            },
        ),
        migrations.CreateModel(
            name='IncentiveRates',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('upfront_per_kw', models.DecimalField(decimal_places=2, max_digits=8, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('upfront_cap', models.DecimalField(decimal_places=2, max_digits=10, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('participation_credit_per_kw', models.DecimalField(decimal_places=2, max_digits=8, validators=[django.core.validators.MinValueValidator(Decimal('0'))])),
                ('credit_period', models.CharField(choices=[('monthly', 'Monthly'), ('annual', 'Annual')], default='monthly', max_length=8)),
                ('clawback_months', models.PositiveSmallIntegerField(default=36, help_text='Withdrawing sooner than this after activation repays a share.')),
                ('program', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='incentive_rates', to='programs.program')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
                'verbose_name_plural': 'incentive rates',
                'constraints': [models.CheckConstraint(condition=models.Q(('participation_credit_per_kw__gte', 0), ('upfront_cap__gte', 0), ('upfront_per_kw__gte', 0)), name='incentive_rates_not_negative'), models.CheckConstraint(condition=models.Q(('credit_period__in', ['monthly', 'annual'])), name='incentive_rates_period_valid')],
            },
        ),
        migrations.AddConstraint(
            model_name='programterms',
            constraint=models.UniqueConstraint(fields=('program', 'version'), name='terms_version_unique'),
        ),
        migrations.AddConstraint(
            model_name='programterms',
            constraint=models.CheckConstraint(condition=models.Q(('version__gte', 1)), name='terms_version_positive'),
        ),
        migrations.AddIndex(
            model_name='enrollment',
            index=models.Index(fields=['utility', 'state'], name='enrollment_utility_state'),
        ),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.UniqueConstraint(condition=models.Q(('state__in', ('submitted', 'eligible', 'approved', 'device_linked', 'telemetry_verified', 'active'))), fields=('program', 'site_key'), name='enrollment_open_once_per_site'),
        ),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.UniqueConstraint(condition=models.Q(('state__in', ('submitted', 'eligible', 'approved', 'device_linked', 'telemetry_verified', 'active'))), fields=('program', 'account_number'), name='enrollment_open_once_per_account'),
        ),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['submitted', 'eligible', 'ineligible', 'approved', 'rejected', 'device_linked', 'telemetry_verified', 'active', 'withdrawn', 'terminated'])), name='enrollment_state_valid'),
        ),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.CheckConstraint(condition=models.Q(('has_solar', True), ('solar_kw__isnull', True), _connector='OR'), name='enrollment_solar_size_needs_solar'),
        ),
        migrations.AddConstraint(
            model_name='enrollment',
            constraint=models.CheckConstraint(condition=models.Q(('incentive_upfront__isnull', True), ('incentive_upfront__gte', 0), _connector='OR'), name='enrollment_incentive_not_negative'),
        ),
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
                ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='enrollment.certificateauthority')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
                'ordering': ['pk'],
            },
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
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='products', to='enrollment.vendororganization')),
            ],
            options={
                'ordering': ['vendor_name', 'model_name'],
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
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='applications', to='enrollment.vendororganization')),
                ('program', models.ForeignKey(help_text='The target.', on_delete=django.db.models.deletion.CASCADE, related_name='+', to='programs.program')),
                ('sandbox_program', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='programs.program')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
            ],
            options={
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
                ('authority', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='enrollment.certificateauthority')),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
                ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='certificates', to='enrollment.vendorapplication')),
            ],
            options={
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
                ('cursor', models.JSONField(blank=True, default=dict)),
                ('results', models.JSONField(blank=True, default=dict)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('started_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='portal.utility')),
                ('certificate', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='enrollment.issuedcertificate')),
                ('application', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='runs', to='enrollment.vendorapplication')),
            ],
            options={
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='VendorContact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120)),
                ('email', models.EmailField(max_length=254)),
                ('phone', models.CharField(blank=True, max_length=32)),
                ('topic', models.CharField(blank=True, help_text='e.g. technical, commercial', max_length=60)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='enrollment.vendororganization')),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.AddConstraint(
            model_name='certificateauthority',
            constraint=models.UniqueConstraint(fields=('utility', 'role'), name='one_ca_per_role'),
        ),
        migrations.AddConstraint(
            model_name='productmodel',
            constraint=models.UniqueConstraint(fields=('organization', 'vendor_name', 'model_name'), name='product_once_per_org'),
        ),
        migrations.AddConstraint(
            model_name='vendorapplication',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['draft', 'submitted', 'testing', 'passed', 'approved', 'rejected'])), name='application_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='issuedcertificate',
            constraint=models.UniqueConstraint(fields=('lfdi',), name='issued_certificate_unique_lfdi'),
        ),
        migrations.AddConstraint(
            model_name='conformancerun',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'running', 'passed', 'failed', 'error'])), name='run_status_valid'),
        ),
    ]
