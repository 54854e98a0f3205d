"""DeviceCapability (/dcap) and Time (/tm): where a client starts, and the server's clock."""

from protocol import selectors
from protocol.fsets.base import SepView
from protocol.http import SepResponse
from protocol.managers.dcap import device_capability
from protocol.managers.time import time_body


class DeviceCapabilityView(SepView):
    def get(self, request):
        return self.sep(
            device_capability(
                poll_rate=self.poll_rate_of("dcap"),
                end_devices=selectors.end_devices_for_client(client=self.client).count(),
                mirror_usage_points=selectors.mirror_usage_points_for_client(
                    client=self.client
                ).count(),
            )
        )


class TimeView(SepView):
    def get(self, request):
        # The listener's fast path (protocol.fastpath.time_lookup) answers the same bytes.
        body = time_body(
            zone_name=self.utility.timezone,
            now=self.now,
            poll_rate=self.poll_rate,
            profile=self.profile,
        )
        return SepResponse(body)
