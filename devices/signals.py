"""The seam through which the domain tells others about telemetry, without importing them.

``telemetry_ingested`` is sent after the ingest transaction commits, with ``utility_id``
and ``device_ids`` (a sorted list). The portal subscribes to push live aggregates.
"""

from django.dispatch import Signal

telemetry_ingested = Signal()
