"""Forms of the vendor portal and the operators' decisions."""

from django import forms
from django.core.exceptions import ValidationError

from programs.models import Program
from vendors.choices import VendorRole
from vendors.models import ProductModel, VendorContact
from vendors.registry import engine


class VendorSignupForm(forms.Form):
    organization = forms.CharField(max_length=200, label="Organisation name")
    website = forms.URLField(required=False, assume_scheme="https")
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, min_length=10)


class ProductModelForm(forms.ModelForm):
    class Meta:
        model = ProductModel
        fields = [
            "vendor_name",
            "model_name",
            "power_kw",
            "energy_kwh",
            "chemistry",
            "firmware",
            "client_type",
        ]
        # The model's verbose names are bare units ("kW"), which the form capitalised.
        labels = {"power_kw": "Power (kW)", "energy_kwh": "Energy (kWh)"}


class ApplicationForm(forms.Form):
    program = forms.ModelChoiceField(
        queryset=Program.objects.real()
        .filter(status__in=["enrolling", "active"])
        .select_related("utility"),
        label="Program",
    )


class CertificateForm(forms.Form):
    kind = forms.ChoiceField(choices=[("aggregator", "Aggregator"), ("device", "Device")])
    csr = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        label="CSR (PEM)",
        help_text=(
            "Paste a CSR for an ECDSA P-256 key, or generate a key in this browser. Left "
            "empty, the server generates a key and shows it once; it is never stored."
        ),
    )


class VendorInviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=VendorRole.choices, initial=VendorRole.ENGINEER)


class VendorRoleForm(forms.Form):
    role = forms.ChoiceField(choices=VendorRole.choices)


class VendorContactForm(forms.ModelForm):
    class Meta:
        model = VendorContact
        fields = ["kind", "name", "email", "phone", "topic"]


class VendorDecisionForm(forms.Form):
    """An operator's decision on a vendor organisation; rejecting needs a reason."""

    action = forms.ChoiceField(
        choices=[("approve", "Approve"), ("reject", "Reject"), ("suspend", "Suspend")]
    )
    reason = forms.CharField(max_length=500, required=False, widget=forms.TextInput)

    def clean(self):
        data = super().clean()
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the organisation is rejected.")
        return data


class RunForm(forms.Form):
    time_scale = forms.FloatField(min_value=0.001, max_value=10, initial=1.0)
    procedures = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked runs the whole suite.",
    )
    oob_lfdi = forms.CharField(
        label="Out-of-band LFDI",
        required=False,
        max_length=40,
        help_text="For out-of-band registration: the LFDI of a device your client will "
        "register with a PIN (40 hex digits). Leave empty to skip that procedure.",
    )
    oob_pin = forms.CharField(
        label="Out-of-band PIN",
        required=False,
        max_length=6,
        help_text="Its registration PIN, ending in the 2030.5 check digit.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        procedures = engine().procedures
        self.fields["procedures"].choices = [(k, p.title) for k, p in procedures.items()]

    def clean(self):
        cleaned = super().clean()
        lfdi, pin = cleaned.get("oob_lfdi", ""), cleaned.get("oob_pin", "")
        if bool(lfdi) != bool(pin):
            raise ValidationError("Give both the out-of-band LFDI and its PIN, or neither.")
        cleaned["parameters"] = {"oob_lfdi": lfdi, "oob_pin": pin} if lfdi else {}
        if lfdi:
            engine().parameters_check(cleaned["parameters"])  # the same check the runner applies
        return cleaned
