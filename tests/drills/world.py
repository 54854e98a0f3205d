"""The drill's data, written into the private stack's database by a subprocess of its own
(the drill driver never shares a Django connection with the stack).

    python -m tests.drills.world build <devices> <out.json>
    python -m tests.drills.world event <world.json> <start-in-s> <duration-s>  (prints the id)
"""

import json
import os
import sys
from pathlib import Path


def build(devices: int, out: Path) -> None:
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from rest_framework.authtoken.models import Token

    from protocol import pki
    from protocol.identity import client_identity_from_der
    from protocol.managers.derp import DER_CONTROL_LIST, control_list_href
    from protocol.services import client_register, subscription_create
    from tenancy.choices import Role
    from tests import factories
    from tests.protocol.sep_world import enrolled_end_device

    utility = factories.utility("Drill Power", slug="drill")
    manager = factories.member(utility, Role.PROGRAM_MANAGER, email="pm@drill.test")
    program = factories.program(
        utility, poll_rate_s=60, min_duration_min=1, max_events_per_day=None, status="active"
    )
    group = factories.dispatch_group(utility, prog=program)
    # A whole test PKI on disk: nginx (the ASGI worker drill) verifies the aggregator's
    # certificate against its CA bundle and presents its server certificate.
    built = pki.build_test_pki(out.parent / "pki")
    cert = built.aggregator
    identity = client_identity_from_der(cert.cert_der)
    client = client_register(
        utility=utility, lfdi=identity.lfdi, kind="aggregator", name="drill", program=program
    )
    end_devices = [
        enrolled_end_device(utility, client=client, program=program) for _ in range(devices)
    ]
    # 2030.5 subscriptions to the first devices' DERControlLists, notified at a loopback
    # receiver the drill runs (DRILL_NOTIFY_URL): each event transition notifies each once.
    notify = os.environ.get("DRILL_NOTIFY_URL", "")
    subscriptions = []
    for ed in end_devices[: 5 if notify else 0]:
        resource = control_list_href(ed, group, DER_CONTROL_LIST)
        sub = subscription_create(
            end_device=ed, subscribed_resource=resource, notification_uri=f"{notify}/n/{ed.pk}"
        )
        subscriptions.append(sub.pk)
    token, _ = Token.objects.get_or_create(user=manager)
    # A logged-in browser session for the live page's WebSocket.
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(manager.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = manager.get_session_auth_hash()
    session.save()
    out.write_text(
        json.dumps(
            {
                "utility": utility.pk,
                "program": program.pk,
                "group": group.pk,
                "manager": manager.pk,
                "token": token.key,
                "subscriptions": subscriptions,
                "session": session.session_key,
                "cert_pem": cert.cert_pem.decode(),
                "pki": {
                    "ca_bundle": str(built.ca_bundle),
                    "server_cert": str(built.server_cert),
                    "server_key": str(built.server_key),
                    "client_cert": str(built.aggregator_cert),
                    "client_key": str(built.aggregator_key),
                },
                "end_devices": [
                    {"id": ed.pk, "lfdi": ed.lfdi, "device": ed.device_id} for ed in end_devices
                ],
            }
        )
    )


def event(world: dict, start_in_s: float, duration_s: int) -> int:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from programs.choices import EventStatus
    from programs.models import DispatchGroup, Event, Program
    from programs.services import event_cancel, event_create

    program = Program.objects.get(pk=world["program"])
    group = DispatchGroup.objects.get(pk=world["group"])
    manager = get_user_model().objects.get(pk=world["manager"])
    # Each drill starts an event of its own: an earlier drill's event still running would
    # overlap it, which the program refuses; that one is done with.
    live = (EventStatus.SCHEDULED, EventStatus.ACTIVE)
    for earlier in Event.objects.for_utility(group.utility_id).filter(group=group, status__in=live):
        event_cancel(event=earlier, actor=manager)
    created = event_create(
        program=program,
        group=group,
        kind="discharge",
        start=timezone.now() + timedelta(seconds=start_in_s),
        duration_s=duration_s,
        actor=manager,
        target_w=1000,
    )
    return created.pk


def main(args: list[str]) -> None:
    import django

    django.setup()
    if args[0] == "build":
        build(int(args[1]), Path(args[2]))
    elif args[0] == "event":
        world = json.loads(Path(args[1]).read_text())
        print(event(world, float(args[2]), int(args[3])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
