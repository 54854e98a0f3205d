from django import forms

from enrollment.models import ProductModel
from programs.models import Program


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


class ApplicationForm(forms.Form):
    program = forms.ModelChoiceField(
        queryset=Program.objects.filter(
            is_sandbox=False, status__in=["enrolling", "active"]
        ).select_related("utility"),
        label="Program",
    )


class CertificateForm(forms.Form):
    kind = forms.ChoiceField(choices=[("aggregator", "Aggregator"), ("device", "Device")])
    csr = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        label="CSR (PEM)",
        help_text="Leave empty to have a P-256 key generated; it is shown once, never stored.",
    )
