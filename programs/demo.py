"""Demo programs: a Wattsmart-style battery program for each demo utility."""

from datetime import date, time
from typing import TypedDict

from programs.models import DispatchGroup, Program, QualifiedEquipment, Season


class DemoProgram(TypedDict):
    name: str
    slug: str
    description: str
    groups: list[tuple[str, str, str]]  # (name, states, ZIP prefixes)
    window: tuple[time, time]


DEMO_PROGRAMS: dict[str, DemoProgram] = {
    "cascadia": {
        "name": "Cascadia Battery Savers",
        "slug": "battery-savers",
        "description": "Customers' home batteries help meet peak demand; $500/kW upfront "
        "and $15/kW each year.",
        "groups": [("Oregon", "OR", ""), ("Washington", "WA", "")],
        "window": (time(14, 0), time(21, 0)),
    },
    "sonoran": {
        "name": "Sonoran Peak Partners",
        "slug": "peak-partners",
        "description": "Evening peak support from customer batteries (APS-style pilot rules).",
        "groups": [("Phoenix metro", "AZ", "85")],
        "window": (time(15, 0), time(21, 0)),
    },
}

DEMO_EQUIPMENT = [
    ("VoltStack", "Home 13", 5000, 13500),
    ("VoltStack", "Home 10", 5000, 10000),
    ("Northwind Energy", "PowerWall-ish 2", 7600, 13500),
]


def demo_programs(utilities: dict) -> dict:
    """Create the demo programs (idempotent) and return {utility slug: program slug}."""
    created = {}
    for slug, utility in utilities.items():
        spec = DEMO_PROGRAMS.get(slug)
        if spec is None:
            continue
        program, _ = Program.objects.get_or_create(
            utility=utility,
            slug=spec["slug"],
            defaults={
                "name": spec["name"],
                "description": spec["description"],
                "status": "active",
                # The seasons below add up to 80 (60 + 20): the yearly cap holds them both.
                "max_events_per_year": 80,
                "max_events_per_day": 2,
                "min_duration_min": 5,
                "max_duration_min": 240,
                "allowed_weekdays": "0,1,2,3,4,5,6",
                "window_start": spec["window"][0],
                "window_end": spec["window"][1],
                "min_notice_min": 10,
                "reserve_soc_pct": 20,
            },
        )
        year = date.today().year  # noqa: DTZ011  (a calendar year for demo seasons)
        for name, start, end, cap, hours in (
            ("Summer", date(year, 6, 1), date(year, 9, 30), 60, 120),
            ("Winter", date(year, 11, 1), date(year + 1, 3, 31), 20, 40),
        ):
            Season.objects.get_or_create(
                utility=utility,
                program=program,
                name=name,
                start_date=start,
                defaults={"end_date": end, "max_events": cap, "max_hours": hours},
            )
        for name, states, zips in spec["groups"]:
            DispatchGroup.objects.get_or_create(
                utility=utility,
                program=program,
                name=name,
                defaults={"states": states, "zip_prefixes": zips},
            )
        for vendor, model, watts, wh in DEMO_EQUIPMENT:
            QualifiedEquipment.objects.get_or_create(
                utility=utility,
                program=program,
                vendor_name=vendor,
                model_name=model,
                defaults={"nameplate_w": watts, "nameplate_wh": wh},
            )
        created[slug] = program.slug
    return created
