"""Forms of the public enrollment steps, the review queue and the whitelist import."""

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.validators import RegexValidator
from django.utils import timezone

from enrollment import eligibility
from enrollment.models import IncentiveRates, zip_format
from enrollment.selectors import as_id
from programs.models import QualifiedEquipment

serial_format = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,59}$",
    "Use the serial number as printed on the battery: 3 to 60 letters, digits, dashes.",
)
state_format = RegexValidator(r"^[A-Za-z]{2}$", "Use the two-letter state code, e.g. OR.")
text_only = RegexValidator(r"^[^<>]*$", "Angle brackets are not allowed here.")


class AddressForm(forms.Form):
    """Step 1: where the battery is, and the utility account it belongs to."""

    street = forms.CharField(max_length=200, min_length=3, validators=[text_only])
    city = forms.CharField(max_length=100, validators=[text_only])
    state_code = forms.CharField(label="State", max_length=2, validators=[state_format])
    zip_code = forms.CharField(label="ZIP code", max_length=10, validators=[zip_format])
    account_number = forms.CharField(max_length=32)
    email = forms.EmailField(max_length=200)

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.program = program
        self.rules = eligibility.rules_for(program)
        self.fields["account_number"].help_text = self.rules.account_number_hint
        self.fields["zip_code"].widget.attrs.update(inputmode="numeric", autocomplete="postal-code")
        self.fields["street"].widget.attrs.update(autocomplete="address-line1")
        self.fields["city"].widget.attrs.update(autocomplete="address-level2")
        self.fields["state_code"].widget.attrs.update(autocomplete="address-level1")
        self.fields["email"].widget.attrs.update(autocomplete="email")

    def clean_state_code(self):
        return self.cleaned_data["state_code"].upper()

    def clean_account_number(self):
        value = "".join(self.cleaned_data["account_number"].replace("-", "").split())
        if not eligibility.account_well_formed(rules=self.rules, account_number=value):
            hint = self.rules.account_number_hint
            raise forms.ValidationError(f"That account number is not in the expected form: {hint}.")
        return value

    def clean(self):
        data = super().clean()
        state, zip_code = data.get("state_code"), data.get("zip_code")
        utility = self.program.utility
        if state and zip_code and not utility.serves(state=state, zip_code=zip_code):
            raise forms.ValidationError(
                f"Sorry, this address is not eligible: {utility.display_name} does not serve "
                f"ZIP {zip_code} in {state}, so it cannot join {self.program.name}.",
                code="territory",
            )
        return data


class BatteryForm(forms.Form):
    """Step 2: which qualified battery, its serial number and install date, and solar."""

    equipment = forms.TypedChoiceField(label="Battery model", coerce=int)
    serial = forms.CharField(label="Serial number", max_length=60, validators=[serial_format])
    install_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    has_solar = forms.TypedChoiceField(
        label="Do you have solar panels?",
        choices=[("no", "No"), ("yes", "Yes")],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    solar_kw = forms.DecimalField(
        label="Solar size (kW DC)",
        required=False,
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.1"),
        max_value=Decimal("1000"),
    )

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.equipment = {
            e.pk: e for e in QualifiedEquipment.objects.for_utility(program.utility).filter(
                program=program
            )
        }  # fmt: skip
        self.fields["equipment"].choices = [("", "Choose your battery")] + [
            (pk, f"{e.vendor_name} {e.model_name} ({e.nameplate_w / 1000:g} kW, "
                 f"{e.nameplate_wh / 1000:g} kWh)")
            for pk, e in self.equipment.items()
        ]  # fmt: skip

    def clean_install_date(self):
        value = self.cleaned_data["install_date"]
        if value > timezone.localdate():
            raise forms.ValidationError("The install date cannot be in the future.")
        if value < date(2010, 1, 1):
            raise forms.ValidationError("The install date must be 2010 or later.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("has_solar") and data.get("solar_kw") is None:
            self.add_error("solar_kw", "Give the size of your solar system in kW.")
        if data.get("has_solar") is False:
            data["solar_kw"] = None
        return data


class TermsForm(forms.Form):
    """Step 3: accept the current version of the program's terms."""

    terms_version = forms.IntegerField(widget=forms.HiddenInput)
    accept = forms.BooleanField(
        label="I have read and accept these terms and conditions.",
        error_messages={"required": "You must accept the terms to enroll."},
    )

    def __init__(self, *args, terms, **kwargs):
        super().__init__(*args, **kwargs)
        self.terms = terms

    def clean_terms_version(self):
        if self.cleaned_data["terms_version"] != self.terms.version:
            raise forms.ValidationError(
                "The terms have changed since you opened this page. Please read the new version."
            )
        return self.cleaned_data["terms_version"]


class AccountForm(forms.Form):
    """Step 4: create the customer's login (skipped for a customer already logged in)."""

    name = forms.CharField(label="Your name", max_length=150, validators=[text_only])
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password_again = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        password = data.get("password")
        if password and password != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        elif password:
            try:
                validate_password(password)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class BulkDecisionForm(forms.Form):
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    action = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    reason = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integer is accepted here; the service narrows to the utility (fail closed).
        self.fields["ids"].valid_value = lambda value: as_id(value) is not None

    def clean(self):
        data = super().clean()
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give the customers a reason for the rejection.")
        return data


class DecisionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("approve", "Approve"),
            ("reject", "Reject"),
            ("recheck", "Re-check eligibility"),
            ("link", "Link device now"),
            ("terminate", "Terminate"),
        ]
    )
    reason = forms.CharField(max_length=500, required=False)


class AttachDeviceForm(forms.Form):
    identity = forms.CharField(
        label="LFDI or SFDI",
        max_length=40,
        help_text="Of a device registered over IEEE 2030.5, e.g. one that sent no "
        "DeviceInformation and so shows as unidentified.",
    )


class WhitelistImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, at most 5 MB.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 5 MB.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.ValidationError("The file is not UTF-8 text.") from exc


class IncentiveRatesForm(forms.ModelForm):
    """What a program promises its customers: the enrollment incentive and the credit."""

    class Meta:
        model = IncentiveRates
        fields = [
            "upfront_per_kw",
            "upfront_cap",
            "participation_credit_per_kw",
            "credit_period",
            "clawback_months",
        ]
        labels = {
            "upfront_per_kw": "Enrollment incentive ($ per kW)",
            "upfront_cap": "Enrollment incentive cap ($)",
            "participation_credit_per_kw": "Participation credit ($ per kW)",
            "credit_period": "Credit paid",
            "clawback_months": "Clawback period (months)",
        }
        help_texts = {
            "upfront_per_kw": (
                "Paid once per kW of the battery's continuous rating, fixed at approval."
            ),
            "upfront_cap": "The most one enrollment receives.",
            "participation_credit_per_kw": "Per kW enrolled, each credit period.",
        }
