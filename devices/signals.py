"""The seam through which the domain tells others about telemetry, without importing them.

``telemetry_ingested`` is sent (sender: ``TelemetrySample``) after an ingest transaction
that stored at least one reading commits, with ``utility_id``, ``device_ids`` (sorted) and
``source`` (the transport's label). The portal subscribes to push live aggregates; it
must throttle, since transports may ingest many small batches.
"""

from django.dispatch import Signal

telemetry_ingested = Signal()
