"""Tenancy takes over the utility, brand, territory and membership tables that portal created.

State only, so existing rows stay where they are; 0002 renames the tables. Content types (and so
permissions and admin history) move with the models."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = ["utility", "brand", "territoryarea", "membership"]


def _relabel(apps, old, new):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label=old, model__in=MOVED).update(app_label=new)


def content_types_from_portal(apps, schema_editor):
    _relabel(apps, "portal", "tenancy")


def content_types_to_portal(apps, schema_editor):
    _relabel(apps, "tenancy", "portal")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('portal', '0003_constraint_messages'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Utility',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120, unique=True)),
                        ('slug', models.SlugField(max_length=60, unique=True)),
                        ('timezone', models.CharField(default='America/Los_Angeles', max_length=64)),
                        ('brand_name', models.CharField(blank=True, help_text='Name shown to customers, if not the legal name.', max_length=120)),
                        ('brand_colour', models.CharField(default='#1f6feb', max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{6}$', 'Use a colour like #1f6feb.')])),
                        ('logo', models.FileField(blank=True, upload_to='utility-logos/', validators=[django.core.validators.FileExtensionValidator(['png', 'jpg', 'jpeg', 'webp'])])),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        'db_table': 'portal_utility',
                        'verbose_name_plural': 'utilities',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='TerritoryArea',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('state', models.CharField(max_length=2, validators=[django.core.validators.RegexValidator('^[A-Za-z]{2}$', 'Use a two-letter state code, e.g. OR.')])),
                        ('zip_prefix', models.CharField(blank=True, help_text='Blank for the whole state.', max_length=5, validators=[django.core.validators.RegexValidator('^[0-9]{0,5}$', 'Use up to five digits of a ZIP code.')])),
                        ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='territory', to='tenancy.utility')),
                    ],
                    options={
                        'db_table': 'portal_territoryarea',
                        'ordering': ['state', 'zip_prefix'],
                        'constraints': [models.UniqueConstraint(fields=('utility', 'state', 'zip_prefix'), name='territory_area_unique', violation_error_message='That area is already part of the territory.')],
                    },
                ),
                migrations.CreateModel(
                    name='Membership',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=[('program_manager', 'Program manager'), ('operator', 'Operator'), ('analyst', 'Read-only analyst')], max_length=32)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to=settings.AUTH_USER_MODEL)),
                        ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='memberships', to='tenancy.utility')),
                    ],
                    options={
                        'db_table': 'portal_membership',
                        'ordering': ['utility__name', 'user__email'],
                        'constraints': [models.UniqueConstraint(fields=('utility', 'user'), name='membership_unique'), models.CheckConstraint(condition=models.Q(('role__in', ['program_manager', 'operator', 'analyst'])), name='membership_role_valid')],
                    },
                ),
                migrations.CreateModel(
                    name='Brand',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=120)),
                        ('states', models.CharField(blank=True, help_text='Comma-separated state codes this brand serves.', max_length=200)),
                        ('utility', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='brands', to='tenancy.utility')),
                    ],
                    options={
                        'db_table': 'portal_brand',
                        'ordering': ['name'],
                        'constraints': [models.UniqueConstraint(fields=('utility', 'name'), name='brand_unique_per_utility', violation_error_message='A brand with this name already exists.')],
                    },
                ),
            ],
            database_operations=[migrations.RunPython(content_types_from_portal, content_types_to_portal)],
        ),
    ]
