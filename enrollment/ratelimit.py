"""A small cache-based limiter for the public enrollment pages: N POSTs a minute per client."""

import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render


def client_ip(request) -> str:
    # The TLS proxy in front sets REMOTE_ADDR through the ASGI server's proxy headers.
    return request.META.get("REMOTE_ADDR") or "unknown"


def hit(*, scope: str, ident: str, limit: int, window_s: int = 60) -> bool:
    """Count one request; False once ``limit`` is exceeded within the current window."""
    bucket = int(time.time() // window_s)
    key = f"ratelimit:{scope}:{ident}:{bucket}"
    cache.add(key, 0, timeout=window_s * 2)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=window_s * 2)
        count = 1
    return count <= limit


def limit_posts(scope: str):
    """Refuse a client's POSTs above ``ENROLLMENT_POSTS_PER_MINUTE`` with a 429 page."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                limit = getattr(settings, "ENROLLMENT_POSTS_PER_MINUTE", 30)
                if not hit(scope=scope, ident=client_ip(request), limit=limit):
                    response = render(
                        request, "enrollment/public/rate_limited.html", {"limit": limit}, status=429
                    )
                    response["Retry-After"] = "60"
                    return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
