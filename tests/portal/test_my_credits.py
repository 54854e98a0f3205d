"""A customer's settled credits appear, line by line, on their self-service page."""

from decimal import Decimal

import pytest
from django.urls import reverse

from enrollment.models import Customer
from settlement.models import PaymentLine
from tests import factories

pytestmark = pytest.mark.django_db


def _customer_with_payment(utility, amount):
    person = factories.user()
    customer = Customer.objects.create(utility=utility, user=person, name="Casey")
    payment = factories.customer_payment(utility)
    payment.batch = factories.payment_batch(utility)
    payment.amount = Decimal(amount)
    payment.save()
    PaymentLine.objects.create(
        utility=utility,
        payment=payment,
        kind="kw_season",
        quantity=Decimal("3.42"),
        unit="kW-season",
        rate=Decimal("40"),
        amount=Decimal(amount),
        explanation="avg 3.42 kW x $40.00/kW-season",
    )
    factories.enrollment(utility, customer=customer, device=payment.device, state="active")
    return person


def test_customer_sees_their_own_credit_lines_only(client, utility_a):
    mine = _customer_with_payment(utility_a, "136.80")
    _customer_with_payment(utility_a, "999.99")
    client.force_login(mine)
    html = client.get(reverse("portal:my-credits")).content.decode()
    assert "$136.80" in html and "avg 3.42 kW x $40.00/kW-season" in html
    assert "999.99" not in html
    assert "being reviewed" in html  # the batch is still a draft


def test_staff_without_a_customer_account_get_404(client_a):
    assert client_a.get(reverse("portal:my-credits")).status_code == 404
