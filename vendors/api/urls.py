"""The vendors app's API routes; portal's `/api/v1/` router registers them."""

from vendors.api.views import VendorRunViewSet

# (prefix, viewset, basename)
ROUTES = [("vendor/runs", VendorRunViewSet, "vendor-run")]
