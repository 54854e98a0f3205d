from rest_framework import serializers

from vendors.models import ConformanceRun, VendorApplication
from vendors.registry import engine


class VendorRunSerializer(serializers.ModelSerializer):
    application = serializers.PrimaryKeyRelatedField(queryset=VendorApplication.objects.none())
    procedures = serializers.ListField(child=serializers.ChoiceField(choices=[]), required=False)
    time_scale = serializers.FloatField(min_value=0.001, max_value=10, default=1.0)

    class Meta:
        model = ConformanceRun
        fields = [
            "id",
            "application",
            "procedures",
            "status",
            "progress_pct",
            "time_scale",
            "parameters",
            "started_at",
            "finished_at",
            "results",
        ]
        read_only_fields = ["status", "progress_pct", "started_at", "finished_at", "results"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The catalogue is protocol's; it is registered once the apps are ready.
        self.fields["procedures"].child.choices = sorted(engine().procedures)
        org = self.context.get("organization")
        if org is not None:
            self.fields["application"].queryset = VendorApplication.objects.filter(organization=org)
