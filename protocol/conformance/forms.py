from django import forms
from django.core.exceptions import ValidationError

from protocol.conformance.procedures import REGISTRY
from protocol.conformance.procedures.registration import oob_parameters


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
        self.fields["procedures"].choices = [(k, p.title) for k, p in REGISTRY.items()]

    def clean(self):
        cleaned = super().clean()
        lfdi, pin = cleaned.get("oob_lfdi", ""), cleaned.get("oob_pin", "")
        if bool(lfdi) != bool(pin):
            raise ValidationError("Give both the out-of-band LFDI and its PIN, or neither.")
        cleaned["parameters"] = {"oob_lfdi": lfdi, "oob_pin": pin} if lfdi else {}
        if lfdi:
            oob_parameters(cleaned["parameters"])  # the same check the runner applies
        return cleaned
