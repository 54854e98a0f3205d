"""lxml stays inside protocol/: the domain speaks dataclasses, never XML."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DOMAIN_APPS = ["portal", "programs", "enrollment", "devices", "settlement"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_domain_apps_do_not_import_lxml(app):
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / app).rglob("*.py")
        if any(m == "lxml" or m.startswith("lxml.") for m in imported_modules(path))
    ]
    assert offenders == []


def test_protocol_imports_lxml_only_in_its_xml_package():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "protocol").rglob("*.py")
        if "xml" not in path.relative_to(ROOT / "protocol").parts
        and any(m == "lxml" or m.startswith("lxml.") for m in imported_modules(path))
    ]
    assert offenders == []
