"""Reservoir's side of the cactus-client conformance suite.

- `api`: a small client for Reservoir's northbound API (/api/v1), the only way this
  package changes the server.
- `plugin`: the `cactus_client.admin` plugin that carries out each procedure's admin
  instructions (EndDevices, MUPs, programs, controls, defaults, rates, client access).
- `harness`: runs procedures one by one, each in its own sandbox program with its own
  certificates issued through the API, and reports a table and JUnit XML.

This package runs in its own Python 3.12 venv (bin/conformance); it never imports Django.
"""
