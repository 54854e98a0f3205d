"""Program rules are editable and consistent (issue 19): seasonal caps fit in the yearly cap,
the customer-facing terms are written from the rules, the demo agrees with itself, and the
program form speaks in labels and units, grouped as a person thinks of a program."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from enrollment.models import ProgramTerms
from enrollment.selectors import program_terms_rules
from programs.models import Program, Season
from tests import factories


@pytest.fixture
def web(client, manager):
    client.force_login(manager)
    return client


def test_a_season_that_breaks_the_yearly_cap_is_refused(web, program):
    # The fixture's program: 100 a year, a summer season of 60.
    url = reverse("programs:program-part-add", args=[program.pk, "season"])
    form = {"name": "Winter", "start_date": "2026-11-01", "end_date": "2027-03-31"}
    response = web.post(url, {**form, "max_events": 41}, follow=True)
    assert "would add up to 101 events, more than the program" in response.content.decode()
    assert not program.seasons.filter(name="Winter").exists()
    web.post(url, {**form, "max_events": 40})
    assert program.seasons.get(name="Winter").max_events == 40


def test_the_yearly_cap_cannot_drop_below_the_seasons(program):
    program.max_events_per_year = 59
    with pytest.raises(ValidationError, match="add up to 60 events"):
        program.full_clean()
    program.max_events_per_year = None  # no yearly cap: nothing to exceed
    program.full_clean()


def test_a_season_is_checked_against_its_siblings_not_itself(program):
    summer = program.seasons.get()
    summer.max_events = 100  # the whole yearly cap, replacing its own 60
    summer.full_clean()
    summer.save()
    spring = Season(
        utility=program.utility,
        program=program,
        name="Spring",
        start_date=date(2026, 3, 1),
        end_date=date(2026, 5, 31),
        max_events=1,
    )
    with pytest.raises(ValidationError, match="add up to 101 events"):
        spring.full_clean()


def test_the_terms_are_written_from_the_rules(program):
    factories.incentive_rates(program.utility, prog=program)
    before = " ".join(program_terms_rules(program=program))
    assert "up to 100 events a year" in before and "at most 60 in summer" in before
    assert "between 2 pm and 7 pm" in before and "20 %" in before
    program.max_events_per_year = 80
    program.reserve_soc_pct = 30
    program.save()
    after = " ".join(program_terms_rules(program=Program.objects.get(pk=program.pk)))
    assert "up to 80 events a year" in after and "30 %" in after


@pytest.mark.django_db
def test_the_demo_program_agrees_with_itself(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", "--quiet")
    program = Program.objects.get(utility__slug="cascadia", slug="battery-savers")
    program.full_clean()  # the seasons fit in the yearly cap
    seasonal = sum(s.max_events for s in program.seasons.all())
    assert seasonal <= program.max_events_per_year
    rules = " ".join(program_terms_rules(program=program))
    assert f"up to {program.max_events_per_year} events a year" in rules
    body = ProgramTerms.objects.get(program=program).body
    assert "events a year" not in body and "per kW" not in body  # no second copy to drift


def test_the_program_form_is_grouped_and_labelled(web, program):
    page = web.get(reverse("programs:program-update", args=[program.pk])).content.decode()
    for legend in ("About the program", "Limits", "Windows", "Devices and communication"):
        assert f"<legend>{legend}</legend>" in page
    assert "Backup reserve kept (% of charge)" in page
    assert "Longest event (minutes)" in page
    assert "max_events_per_year</label>" not in page
    assert 'type="checkbox" name="allowed_weekdays" value="0"' in page and "Monday" in page
