# ruff: noqa: RUF009 -- element()/attribute() return dataclasses.field specifiers, not defaults
"""response."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.xml.codec import LFDI, MRID, TIME, UINT8, element, root_element
from protocol.xml.resources.common import Resource, SepList


@root_element()
@dataclass(kw_only=True)
class Response(Resource):
    """Response: `status` codes are listed in DOMAIN.md; `subject` is the event's mRID."""

    created_date_time: int | None = element("createdDateTime", TIME)
    end_device_lfdi: str = element("endDeviceLFDI", LFDI, required=True)
    status: int | None = element("status", UINT8)
    subject: str = element("subject", MRID, required=True)


@root_element()
@dataclass(kw_only=True)
class DERControlResponse(Response):
    """DERControlResponse: a Response to a DERControl."""


@root_element()
@dataclass(kw_only=True)
class ResponseList(SepList):
    """ResponseList."""

    responses: list[Response] = element("Response", Response, many=True)
