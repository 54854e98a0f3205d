"""The seam through which transports learn about dispatch events (the domain never imports them).

``event_changed`` is sent after the transaction commits, with ``event_id``, ``utility_id``
and ``status``. The 2030.5 server (notifications) and the Modbus connector (setpoints)
subscribe to it.

``default_control_changed`` is sent after a group's DefaultControl is set or cleared, with
``group_id`` and ``utility_id``; the 2030.5 server notifies DefaultDERControl subscribers.

``site_envelopes_changed`` is sent after site envelopes are published or cancelled, with
``program_id``, ``utility_id`` and ``connection_point_ids`` (the NMIs); the 2030.5 server
notifies the subscribers of those sites' DERControlLists.

``dispatch_responded`` is sent after a device's Response to an event commits, with
``event_id`` and ``utility_id``; the portal marks the utility's live pages due (throttled).
"""

from django.dispatch import Signal

event_changed = Signal()
dispatch_responded = Signal()
default_control_changed = Signal()
site_envelopes_changed = Signal()
