"""IEEE 2030.5 server state (built by the 2030.5 server core issue)."""
