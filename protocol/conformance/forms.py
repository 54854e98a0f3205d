from django import forms

from protocol.conformance.procedures import REGISTRY


class RunForm(forms.Form):
    time_scale = forms.FloatField(min_value=0.001, max_value=10, initial=1.0)
    procedures = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked runs the whole suite.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["procedures"].choices = [(k, p.title) for k, p in REGISTRY.items()]
