"""A utility's brand as static-looking assets: a stylesheet of CSS custom properties and the
logo. Both are public (the public enrollment pages use them) and carry nothing but what
every customer of the utility sees anyway. A stylesheet from our own origin is what the
Content-Security-Policy allows; no page needs an inline style or script to be branded."""

import hashlib
import mimetypes

from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from tenancy.models import Utility, hex_colour

DEFAULT_BRAND = "#1f6feb"
PAGE_BACKGROUND = "#f6f8fa"


def _luminance(colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _darken(colour: str, factor: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * factor) for c in (r, g, b)))


def brand_palette(colour: str) -> dict[str, str]:
    """The brand colour, a text colour readable on it, and a shade of it readable as text on
    the page and white text on it (WCAG AA, 4.5:1): a light brand colour still makes
    readable links and buttons."""
    try:
        hex_colour(colour)
    except Exception:
        colour = DEFAULT_BRAND
    colour = colour.lower()
    on_brand = "#ffffff" if contrast_ratio(colour, "#ffffff") >= 4.5 else "#1d232b"
    ink = colour
    factor = 1.0
    # Against the page background (#f6f8fa), the darker of the two the brand sits on.
    while contrast_ratio(ink, PAGE_BACKGROUND) < 4.5 and factor > 0:
        factor -= 0.05
        ink = _darken(colour, max(factor, 0))
    return {"brand": colour, "on_brand": on_brand, "brand_ink": ink}


def brand_stylesheet(utility: Utility) -> str:
    p = brand_palette(utility.brand_colour)
    return (
        f":root {{ --brand: {p['brand_ink']}; --brand-fill: {p['brand']}; "
        f"--on-brand: {p['on_brand']}; }}\n"
    )


def _etagged(request, body: bytes, content_type: str) -> HttpResponse:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        return HttpResponseNotModified()
    response = HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def brand_css(request, utility_slug: str):
    utility = get_object_or_404(Utility, slug=utility_slug)
    return _etagged(request, brand_stylesheet(utility).encode(), "text/css; charset=utf-8")


@require_GET
def brand_logo(request, utility_slug: str):
    utility = get_object_or_404(Utility, slug=utility_slug)
    if not utility.logo:
        raise Http404("This utility has no logo.")
    content_type = mimetypes.guess_type(utility.logo.name)[0] or ""
    if content_type not in ("image/png", "image/jpeg", "image/webp"):
        raise Http404("No logo in a served format.")
    try:
        handle = utility.logo.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The logo file is missing.") from exc
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = "public, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response
