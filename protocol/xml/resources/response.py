"""Response and DERControlResponse (a client's answer to an event)."""

from __future__ import annotations

from protocol.xml.codec import LFDI, MRID, TIME, UINT8, element, items, root_element
from protocol.xml.resources.common import Resource, SepList


@root_element()
class Response(Resource):
    """Response: `status` codes are listed in DOMAIN.md; `subject` is the event's mRID."""

    created_date_time: int | None = element("createdDateTime", TIME)
    end_device_lfdi: str = element("endDeviceLFDI", LFDI, required=True)
    status: int | None = element("status", UINT8)
    subject: str = element("subject", MRID, required=True)


@root_element()
class DERControlResponse(Response):
    """DERControlResponse: a Response to a DERControl."""


@root_element()
class ResponseList(SepList):
    """ResponseList."""

    responses: list[Response] = items(Response)
