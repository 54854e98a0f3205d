"""Vendor conformance: certificates for sandboxes, test procedures and their runs."""
