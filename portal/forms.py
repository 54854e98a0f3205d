from django import forms

from tenancy.models import Brand, TerritoryArea, Utility


class BrandingForm(forms.ModelForm):
    class Meta:
        model = Utility
        fields = ["brand_name", "brand_colour", "logo", "timezone"]
        widgets = {"brand_colour": forms.TextInput(attrs={"type": "color"})}


class BrandForm(forms.ModelForm):
    class Meta:
        model = Brand
        fields = ["name", "states"]


class TerritoryAreaForm(forms.ModelForm):
    class Meta:
        model = TerritoryArea
        fields = ["state", "zip_prefix"]

    def clean_state(self):
        return self.cleaned_data["state"].upper()
