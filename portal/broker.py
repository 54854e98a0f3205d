"""The embedded Celery broker: kombu's filesystem transport, with whole messages only.

Kombu's own `_put` opens the message file under its final name and then writes it, while a
consumer's `_get` moves any file with that name away and reads it: a consumer that comes in
between reads an empty message, and the worker's consumer dies on the JSON error (seen in
the program manager's day test under load). Here a message is written under a name no
consumer looks for and renamed into place, which is atomic on one filesystem.
"""

import os
import time
import uuid

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "reservoirfs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # "<n>_<uuid>.<queue>.msg.part" never matches the "<queue>.msg" a consumer reads.
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


TRANSPORT_ALIASES[SCHEME] = "portal.broker:Transport"
