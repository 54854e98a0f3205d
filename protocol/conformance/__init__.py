"""Vendor conformance, the wire side: test procedures, the runner and sandbox clients."""
