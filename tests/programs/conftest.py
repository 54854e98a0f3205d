from datetime import UTC, date, datetime, time

import pytest

from programs.models import DispatchGroup, Program, Season
from tenancy.choices import Role
from tests import factories

# A Wednesday afternoon in July, Pacific time = 21:00 UTC.
NOW = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)


@pytest.fixture
def utility(db):
    return factories.utility("Cascadia", slug="cascadia", timezone="America/Los_Angeles")


@pytest.fixture
def manager(utility):
    return factories.member(utility, Role.PROGRAM_MANAGER)


@pytest.fixture
def operator(utility):
    return factories.member(utility, Role.OPERATOR)


@pytest.fixture
def program(utility):
    program = Program.objects.create(
        utility=utility,
        name="Battery Savers",
        slug="battery-savers",
        max_events_per_year=100,
        max_events_per_day=1,
        min_duration_min=5,
        max_duration_min=180,
        allowed_weekdays="0,1,2,3,4",
        window_start=time(14, 0),
        window_end=time(19, 0),
        min_notice_min=60,
        min_rest_min=0,
        reserve_soc_pct=20,
    )
    Season.objects.create(
        utility=utility,
        program=program,
        name="Summer",
        start_date=date(2026, 6, 1),
        end_date=date(2026, 9, 30),
        max_events=60,
        max_hours=40,
    )
    return program


@pytest.fixture
def group(program):
    return DispatchGroup.objects.create(utility=program.utility, program=program, name="Oregon")
