"""Performance reconciliation and payments (built by the settlement issue)."""
