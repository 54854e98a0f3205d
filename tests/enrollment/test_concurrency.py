"""Two customers submit the same site at the same moment: exactly one enrollment wins."""

import threading

import pytest
from django.db import connections

from enrollment import services
from enrollment.models import Enrollment
from tests import factories
from tests.enrollment.conftest import make_setup, submit


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same", ["address", "account"])
def test_concurrent_double_enrollment_one_wins(same):
    setup = make_setup(factories.utility("Race Power", slug="race"))
    outcomes, errors = [], []
    start = threading.Barrier(2)

    def attempt(n):
        try:
            start.wait()
            fields = (
                {"street": "10 Race Street", "account_number": f"555000010{n}"}
                if same == "address"
                else {"street": f"{n} Different Road", "account_number": "5550000100"}
            )
            outcomes.append(submit(setup, serial=f"RACE-{n}", **fields))
        except services.AlreadyEnrolled as exc:
            errors.append(exc)
        except Exception as exc:  # anything else is a failure of the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 1, (outcomes, errors)
    assert len(errors) == 1 and isinstance(errors[0], services.AlreadyEnrolled), errors
    assert Enrollment.objects.filter(program=setup.program).count() == 1
