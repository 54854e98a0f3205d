"""The public enrollment pages: no account needed until the last step; progress is kept in
a draft that a signed cookie points to, so a customer who leaves can come back.
"""

from datetime import date, timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from enrollment import selectors, services
from enrollment.forms import AccountForm, AddressForm, BatteryForm, TermsForm
from enrollment.models import Customer, EnrollmentDraft
from enrollment.ratelimit import limit_posts
from programs.choices import ProgramStatus
from programs.models import Program
from tenancy.models import Utility
from tenancy.selectors import get_for_utility

STEPS = {1: "Address and account", 2: "Your battery", 3: "Terms", 4: "Confirm"}
DRAFT_SALT = "enrollment-draft"
DRAFT_MAX_AGE = timedelta(days=30)


def _program(utility_slug: str, program_slug: str) -> Program:
    utility = get_object_or_404(Utility, slug=utility_slug)
    program = get_for_utility(
        Program.objects.select_related("utility"), utility=utility, slug=program_slug
    )
    if program.is_sandbox or program.status not in (ProgramStatus.ENROLLING, ProgramStatus.ACTIVE):
        raise Http404("This program is not taking enrollments.")
    return program


def _cookie_name(program: Program) -> str:
    return f"enroll_{program.pk}"


def _draft(request, program: Program) -> EnrollmentDraft | None:
    token = request.get_signed_cookie(
        _cookie_name(program), default=None, salt=DRAFT_SALT, max_age=DRAFT_MAX_AGE
    )
    if not token:
        return None
    return (
        EnrollmentDraft.objects.for_utility(program.utility)
        .filter(program=program, token=token)
        .first()
    )


def _customer_here(request, program) -> Customer | None:
    if not request.user.is_authenticated:
        return None
    customer = Customer.objects.for_utility(program.utility).filter(user=request.user).first()
    return customer


def _step_url(program: Program, step: int) -> str:
    return reverse(
        "enrollment:enroll-step",
        kwargs={"utility_slug": program.utility.slug, "program_slug": program.slug, "step": step},
    )


def _forms_from_draft(program, draft, terms):
    data = draft.data if draft else {}
    return (
        AddressForm(data.get("1"), program=program),
        BatteryForm(data.get("2"), program=program),
        TermsForm(data.get("3"), terms=terms),
    )


def _context(program, step, **extra):
    if step == 3:
        extra["terms_rules"] = selectors.program_terms_rules(program=program)
    return {
        "program": program,
        "utility": program.utility,
        "steps": STEPS,
        "step": step,
        **extra,
    }


@limit_posts("enroll")
def enroll_start(request, utility_slug: str, program_slug: str):
    program = _program(utility_slug, program_slug)
    draft = _draft(request, program)
    return redirect(_step_url(program, draft.step if draft else 1))


@limit_posts("enroll")
def enroll_step(request, utility_slug: str, program_slug: str, step: int):
    program = _program(utility_slug, program_slug)
    if step not in STEPS:
        raise Http404("No such step.")
    draft = _draft(request, program)
    reached = draft.step if draft else 1
    if step > reached:
        return redirect(_step_url(program, reached))
    terms = services.terms_current(program=program)
    if terms is None:
        return render(request, "enrollment/public/closed.html", _context(program, step))
    customer = _customer_here(request, program)

    saved = (draft.data if draft else {}).get(str(step))
    form_classes = {1: AddressForm, 2: BatteryForm, 3: TermsForm}
    kwargs = {"terms": terms} if step == 3 else {"program": program}

    if step < 4:
        form_class = form_classes[step]
        if request.method == "POST":
            form = form_class(request.POST, **kwargs)
            if form.is_valid():
                draft = draft or EnrollmentDraft(utility=program.utility, program=program)
                fields = [f for f in form.fields if f != "accept"]
                draft.data = {**draft.data, str(step): {f: request.POST.get(f, "") for f in fields}}
                if step == 3:
                    draft.data["3"]["accept"] = "on"
                draft.step = max(draft.step, step + 1)
                draft.save()
                response = redirect(_step_url(program, step + 1))
                response.set_signed_cookie(
                    _cookie_name(program),
                    draft.token,
                    salt=DRAFT_SALT,
                    max_age=int(DRAFT_MAX_AGE.total_seconds()),
                    httponly=True,
                    samesite="Lax",
                    secure=request.is_secure(),
                )
                return response
        else:
            initial = saved or ({"terms_version": terms.version} if step == 3 else None)
            if step == 3:  # the version shown now, even if an older one was accepted before
                initial = {**(initial or {}), "terms_version": terms.version}
            form = form_class(initial=initial, **kwargs)
        return render(
            request,
            f"enrollment/public/step{step}.html",
            _context(program, step, form=form, terms=terms, customer=customer),
        )

    # Step 4: everything re-validated from the draft, then the account and the enrollment.
    address, battery, terms_form = _forms_from_draft(program, draft, terms)
    for number, form in ((1, address), (2, battery), (3, terms_form)):
        if not form.is_valid():
            messages.error(request, f"Please check step {number} ({STEPS[number]}) again.")
            draft.step = number
            draft.save(update_fields=["step", "updated_at"])
            return redirect(_step_url(program, number))
    account_form = None if customer else AccountForm(request.POST or None)
    problem = ""
    if request.method == "POST" and (account_form is None or account_form.is_valid()):
        a, b = address.cleaned_data, battery.cleaned_data
        equipment = battery.equipment[b["equipment"]]
        try:
            with transaction.atomic():
                if customer is None:
                    customer = services.customer_account_create(
                        utility=program.utility,
                        email=a["email"],
                        password=account_form.cleaned_data["password"],
                        name=account_form.cleaned_data["name"],
                    )
                enrollment = services.enrollment_submit(
                    program=program,
                    customer=customer,
                    email=a["email"],
                    street=a["street"],
                    city=a["city"],
                    state_code=a["state_code"],
                    zip_code=a["zip_code"],
                    account_number=a["account_number"],
                    vendor_name=equipment.vendor_name,
                    model_name=equipment.model_name,
                    serial=b["serial"],
                    install_date=b["install_date"],
                    has_solar=b["has_solar"],
                    solar_kw=b["solar_kw"],
                    terms=terms,
                )
                draft.delete()
        except ValidationError as exc:
            problem = " ".join(exc.messages)
        else:
            if request.user != customer.user:
                login(request, customer.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Thank you. We received application {enrollment.pk}.")
            response = redirect("enrollment:my")
            response.delete_cookie(_cookie_name(program))
            return response
    summary = _summary(address.cleaned_data, battery, terms)
    return render(
        request,
        "enrollment/public/step4.html",
        _context(
            program, 4, form=account_form, summary=summary, customer=customer, problem=problem
        ),
        status=400 if problem else 200,
    )


def _summary(a: dict, battery: BatteryForm, terms) -> list[tuple[str, str]]:
    b = battery.cleaned_data
    equipment = battery.equipment[b["equipment"]]
    solar_kw: Decimal | None = b.get("solar_kw")
    install: date = b["install_date"]
    return [
        ("Address", f"{a['street']}, {a['city']}, {a['state_code']} {a['zip_code']}"),
        ("Account number", a["account_number"]),
        ("Email", a["email"]),
        ("Battery", f"{equipment.vendor_name} {equipment.model_name}"),
        ("Serial number", b["serial"]),
        ("Installed", install.isoformat()),
        ("Solar", f"Yes, {solar_kw:g} kW" if b["has_solar"] else "No"),
        ("Terms", f"Version {terms.version}, accepted"),
    ]
