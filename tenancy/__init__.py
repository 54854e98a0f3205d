"""Tenancy: utilities are the tenants; every tenant-owned query is narrowed here, fail closed."""
