"""PostgreSQL, as Django's backend, with a pool whose health check costs no round trip."""
