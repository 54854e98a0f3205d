"""The portal listener's ASGI entry point: Django over HTTP (without the 2030.5 paths, see
portal.listeners), Channels consumers over WebSocket. The 2030.5 listener is
portal.asgi_sep2."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.listeners import PortalHttp  # noqa: E402
from portal.live import PublisherLifespan  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": PortalHttp(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        # Publishes live fleet aggregates next to the WebSockets (see portal.live).
        "lifespan": PublisherLifespan(),
    }
)
