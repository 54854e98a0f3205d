"""Portal models: tenancy lives in ``portal.tenancy``; system health lives here."""

from django.db import models

from portal.tenancy.models import Brand, Membership, TenantModel, TerritoryArea, Utility

__all__ = ["Brand", "Heartbeat", "Membership", "TenantModel", "TerritoryArea", "Utility"]


class Heartbeat(models.Model):
    """When a background process (Celery beat or a worker) last showed it was alive."""

    class Source(models.TextChoices):
        BEAT = "beat", "Celery beat"
        WORKER = "worker", "Celery worker"

    source = models.CharField(max_length=16, choices=Source.choices, unique=True)
    at = models.DateTimeField()
    hostname = models.CharField(max_length=200, blank=True)

    def __str__(self):
        return f"{self.get_source_display()} at {self.at:%Y-%m-%d %H:%M:%S}"
