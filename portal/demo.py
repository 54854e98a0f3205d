"""The demo: two fictional utilities with a user for every role, written to var/demo/.

Later issues add their demo objects (programs, certificates, simulated fleets) by calling
``credentials_update`` with their own top-level key.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from devices.simulator.fleet import demo_fleet_seed
from enrollment.demo import enrollment_demo_seed
from enrollment.models import Customer
from portal.models import AlertRule
from programs.demo import demo_programs
from tenancy.choices import Role
from tenancy.models import Brand, Membership, TerritoryArea, Utility
from vendors.certificates import authority_ensure
from vendors.choices import VendorKind, VendorRole, VendorStatus
from vendors.models import VendorMembership, VendorOrganization

DEMO_PASSWORD = "reservoir-demo"  # noqa: S105  (fictional demo accounts on a local machine)
BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class DemoUtility:
    name: str
    slug: str
    timezone: str
    colour: str
    brands: tuple[tuple[str, str], ...]
    territory: tuple[tuple[str, str], ...]


DEMO_UTILITIES = (
    DemoUtility(
        name="Cascadia Power & Light",
        slug="cascadia",
        timezone="America/Los_Angeles",
        colour="#0b7a75",
        brands=(("Cascadia Power Oregon", "OR"), ("Cascadia Power Washington", "WA")),
        territory=(("OR", "97"), ("WA", "98"), ("WA", "99")),
    ),
    DemoUtility(
        name="Sonoran Electric Cooperative",
        slug="sonoran",
        timezone="America/Phoenix",
        colour="#c2410c",
        brands=(("Sonoran Electric Arizona", "AZ"),),
        territory=(("AZ", "85"), ("AZ", "86")),
    ),
)


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo" / "credentials.json"


def credentials_update(key: str, value) -> dict:
    """Merge one top-level key into var/demo/credentials.json and return the whole file."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def _user(email: str, first: str, last: str, *, staff: bool = False):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=email,
        defaults={
            "email": email,
            "first_name": first,
            "last_name": last,
            "is_staff": staff,
            "is_superuser": staff,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def demo_seed() -> dict:
    """Create (or find) the demo objects and return what the credentials file records."""
    logins = []
    utilities = {}
    platform_operator = _user("ops@reservoir.example", "Platform", "Operator", staff=True)
    logins.append(
        {
            "role": "platform operator (admin, both utilities)",
            "username": platform_operator.username,
        }
    )
    for spec in DEMO_UTILITIES:
        utility, _ = Utility.objects.get_or_create(
            slug=spec.slug,
            defaults={"name": spec.name, "timezone": spec.timezone, "brand_colour": spec.colour},
        )
        for name, states in spec.brands:
            Brand.objects.get_or_create(utility=utility, name=name, defaults={"states": states})
        for state, prefix in spec.territory:
            TerritoryArea.objects.get_or_create(utility=utility, state=state, zip_prefix=prefix)
        Membership.objects.get_or_create(
            utility=utility, user=platform_operator, defaults={"role": Role.OPERATOR}
        )
        people = {}
        for role, first in (
            (Role.PROGRAM_MANAGER, "Pat"),
            (Role.OPERATOR, "Olu"),
            (Role.ANALYST, "Ana"),
        ):
            local = {"program_manager": "pm", "operator": "operator", "analyst": "analyst"}[role]
            user = _user(f"{local}@{spec.slug}.example", first, spec.slug.title())
            Membership.objects.get_or_create(utility=utility, user=user, defaults={"role": role})
            people[role] = user
            logins.append({"utility": spec.slug, "role": role.label, "username": user.username})
        customer_user = _user(f"customer@{spec.slug}.example", "Casey", "Customer")
        Customer.objects.get_or_create(
            user=customer_user, defaults={"utility": utility, "name": "Casey Customer"}
        )
        logins.append(
            {"utility": spec.slug, "role": "Customer", "username": customer_user.username}
        )
        for kind, minutes in (
            ("device_stale", 15),
            ("delivery_shortfall", 10),
            ("client_silent", 20),
            ("heartbeat_late", 2),
        ):
            AlertRule.objects.get_or_create(
                utility=utility, kind=kind, program=None, defaults={"threshold_min": minutes}
            )
        # The utility's 2030.5 CA hierarchy, as a deployment's onboarding creates it
        # (manage.py utility_ca_create). make run and bin/conformance write nginx's trust
        # files next, before nginx starts: the first certificate issued is accepted at once,
        # and the trust write this queues finds nothing new when the worker runs it.
        authority_ensure(utility=utility)
        token, _ = Token.objects.get_or_create(user=people[Role.PROGRAM_MANAGER])
        utilities[spec.slug] = {
            "name": spec.name,
            "api_token": token.key,
            "program_manager": people[Role.PROGRAM_MANAGER].username,
        }

    # The simulated Modbus batteries `make run` serves, as Cascadia's connector sites.
    demo_fleet_seed(utility=Utility.objects.get(slug="cascadia"))

    vendor, _ = VendorOrganization.objects.get_or_create(
        slug="voltstack",
        defaults={
            "name": "VoltStack Energy",
            "kind": VendorKind.AGGREGATOR,
            "status": VendorStatus.APPROVED,
        },
    )
    vendor_user = _user("engineer@voltstack.example", "Vic", "Vendor")
    VendorMembership.objects.get_or_create(
        organization=vendor, user=vendor_user, defaults={"role": VendorRole.ADMIN}
    )
    logins.append({"role": "Vendor engineer (VoltStack Energy)", "username": vendor_user.username})

    programs = demo_programs({slug: Utility.objects.get(slug=slug) for slug in utilities})
    for slug, program_slug in programs.items():
        utilities[slug]["program"] = program_slug

    credentials_update(
        "enrollment", enrollment_demo_seed(base_url=BASE_URL, password=DEMO_PASSWORD)
    )
    credentials_update("password", DEMO_PASSWORD)
    credentials_update("logins", logins)
    credentials_update("utilities", utilities)
    return credentials_update(
        "urls",
        {
            "portal": f"{BASE_URL}/",
            "login": f"{BASE_URL}/accounts/login/",
            "admin": f"{BASE_URL}/admin/",
            "status": f"{BASE_URL}/status/",
            "api": f"{BASE_URL}/api/v1/",
            "api_schema": f"{BASE_URL}/api/v1/schema/",
            "api_docs": f"{BASE_URL}/api/v1/docs/",
        },
    )


def demo_banner(data: dict) -> str:
    lines = ["", "Reservoir is running.", ""]
    urls = data.get("urls", {})
    for name in ("portal", "login", "status", "admin", "api", "api_docs", "api_schema"):
        if name in urls:
            lines.append(f"  {name:<12} {urls[name]}")
    lines += ["", f"  Demo logins (password: {data.get('password')}):"]
    for login in data.get("logins", []):
        where = f"[{login['utility']}] " if "utility" in login else ""
        lines.append(f"    {where}{login['role']:<40} {login['username']}")
    lines.append("")
    for slug, info in data.get("utilities", {}).items():
        lines.append(f"  API token for {info['program_manager']} ({slug}): {info['api_token']}")
    for key in sorted(set(data) - {"urls", "logins", "utilities", "password"}):
        lines.append(f"  {key}: see {credentials_path()}")
    lines += ["", f"  Everything above is also in {credentials_path()}", ""]
    return "\n".join(lines)
