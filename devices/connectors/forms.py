from django import forms

from devices.models import ConnectorSite, Device


class ConnectorSiteForm(forms.ModelForm):
    """A Modbus site; its device is chosen by serial within the active utility."""

    device_serial = forms.CharField(
        required=False, label="Device serial", help_text="The fleet device this site reports."
    )

    class Meta:
        model = ConnectorSite
        fields = ["name", "host", "port", "unit_id", "poll_interval_s", "enabled"]

    def __init__(self, *args, utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.instance.utility = utility
        if self.instance.device_id:
            self.fields["device_serial"].initial = self.instance.device.serial

    def clean_device_serial(self):
        serial = self.cleaned_data["device_serial"].strip()
        if not serial:
            return None
        devices = list(Device.objects.for_utility(self.utility).filter(serial=serial)[:2])
        if len(devices) != 1:
            raise forms.ValidationError("No single device with that serial in this utility.")
        taken = ConnectorSite.objects.filter(device=devices[0]).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("That device already has a connector site.")
        return devices[0]

    def clean(self):
        cleaned = super().clean()
        address = {k: cleaned.get(k) for k in ("host", "port", "unit_id")}
        if None not in address.values():
            clash = ConnectorSite.objects.for_utility(self.utility).filter(**address)
            if clash.exclude(pk=self.instance.pk).exists():
                raise forms.ValidationError("A site already has that host, port and unit id.")
        return cleaned

    def save(self, commit=True):
        self.instance.device = self.cleaned_data.get("device_serial")
        return super().save(commit=commit)
