"""The seam through which transports learn about dispatch events (the domain never imports them).

``event_changed`` is sent after the transaction commits, with ``event_id``, ``utility_id``
and ``status``. The 2030.5 server (notifications) and the Modbus connector (setpoints)
subscribe to it.
"""

from django.dispatch import Signal

event_changed = Signal()
