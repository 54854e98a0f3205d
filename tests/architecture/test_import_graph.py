"""The house plan (../shared/ARCHITECTURE.md) as a test: which rooms may import which.

Read from source, so a lazy import inside a function counts like one at the top. There is no
exceptions list: a new arrow that runs back up fails here and has to be turned around (a
signal, a registry, a task queued by name), not excused.
"""

import ast
import textwrap

import pytest

from tests.architecture.graph import _imports, build, cycles

GRAPH = build()

# Rooms: the apps, with the two transports inside devices as rooms of their own.
TRANSPORTS = ("devices.connectors", "devices.simulator")
DOMAIN = ("programs", "enrollment", "settlement", "vendors", "devices")
# Which rooms each room may import (besides itself and third-party packages).
ALLOWED = {
    "tenancy": set(),
    "devices": {"tenancy"},
    "programs": {"tenancy", "devices"},
    "enrollment": {"tenancy", "devices", "programs"},
    "settlement": {"tenancy", "devices", "programs"},
    "vendors": {"tenancy", "devices", "programs"},
    "protocol": {"tenancy", "devices", "programs", "enrollment", "vendors"},
    "devices.connectors": {"tenancy", "devices", "programs"},
    "devices.simulator": {"tenancy", "devices", "devices.connectors", "protocol"},
    "portal": {
        "tenancy",
        "devices",
        "programs",
        "enrollment",
        "settlement",
        "vendors",
        "protocol",
        *TRANSPORTS,
    },
}
# Libraries that belong to a transport and never to the domain.
WIRE_LIBRARIES = ("lxml", "pymodbus")


def room(module: str) -> str:
    for transport in TRANSPORTS:
        if module == transport or module.startswith(transport + "."):
            return transport
    return module.split(".")[0]


def _is_migration(module: str) -> bool:
    return ".migrations." in module


def _arrows(graph):
    for module, targets in sorted(graph.edges.items()):
        if _is_migration(module):
            continue
        for target in sorted(targets):
            yield module, target


def arrows_up(graph, source_room: str) -> list[str]:
    return [
        f"{module} -> {target}"
        for module, target in _arrows(graph)
        if room(module) == source_room
        and target in graph.edges
        and room(target) != source_room
        and room(target) not in ALLOWED[source_room]
    ]


def portal_importers(graph) -> list[str]:
    return [f"{m} -> {t}" for m, t in _arrows(graph) if room(m) != "portal" and room(t) == "portal"]


def tenancy_arrows(graph) -> list[str]:
    return [
        f"{m} -> {t}"
        for m, t in _arrows(graph)
        if room(m) == "tenancy" and t in graph.edges and room(t) != "tenancy"
    ]


def wire_in_domain(graph) -> list[str]:
    return [
        f"{m} -> {t}"
        for m, t in _arrows(graph)
        if room(m) in DOMAIN
        and (room(t) in ("portal", "protocol") or t.split(".")[0] in WIRE_LIBRARIES)
    ]


def test_every_project_module_is_in_a_room():
    assert {room(m) for m in GRAPH.edges} <= set(ALLOWED)


@pytest.mark.parametrize("source_room", sorted(ALLOWED))
def test_arrows_point_down(source_room):
    wrong = arrows_up(GRAPH, source_room)
    allowed = sorted(ALLOWED[source_room])
    assert not wrong, f"{source_room} may import only {allowed}:\n" + "\n".join(wrong)


def test_nothing_below_portal_imports_portal():
    assert not portal_importers(GRAPH), "\n".join(portal_importers(GRAPH))


def test_tenancy_imports_no_other_app():
    assert not tenancy_arrows(GRAPH), "\n".join(tenancy_arrows(GRAPH))


def test_the_domain_never_touches_the_wire():
    assert not wire_in_domain(GRAPH), "\n".join(wire_in_domain(GRAPH))


def test_no_import_circles():
    found = cycles(GRAPH)
    assert not found, "\n".join(" <-> ".join(c) for c in found)


def test_each_rule_catches_what_it_forbids():
    """The rules themselves: a made-up wrong import is seen by each check."""
    fake = build()

    def add(source, target):
        fake.edges[source] = {*fake.edges[source], target}

    add("programs.models", "portal.realtime")
    add("tenancy.models", "programs.models")
    add("settlement.services", "lxml.etree")
    add("devices.models", "pymodbus.client")
    add("tenancy.selectors", "tenancy.mixins")
    add("tenancy.mixins", "tenancy.selectors")
    assert "programs.models -> portal.realtime" in portal_importers(fake)
    assert "programs.models -> portal.realtime" in arrows_up(fake, "programs")
    assert "tenancy.models -> programs.models" in tenancy_arrows(fake)
    assert "settlement.services -> lxml.etree" in wire_in_domain(fake)
    assert "devices.models -> pymodbus.client" in wire_in_domain(fake)
    assert ["tenancy.mixins", "tenancy.selectors"] in cycles(fake)


def test_lazy_imports_count_and_type_checking_imports_do_not():
    source = textwrap.dedent(
        """
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from portal.models import Alert
        def later():
            from protocol import jobs
        """
    )
    found = _imports(ast.parse(source), "programs.services", is_package=False)
    assert "protocol.jobs" in found
    assert "portal.models" not in found
