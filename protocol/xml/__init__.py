"""IEEE 2030.5 XML: a hardened parser and one declarative codec for every resource type.

lxml stays inside this package; the rest of the project exchanges plain dataclasses.
"""

from protocol.xml.codec import (
    CSIPAUS_NS,
    SEP_CONTENT_TYPE,
    SEP_NS,
    parse,
    schema_version,
    serialize,
)
from protocol.xml.errors import SepXmlError

__all__ = [
    "CSIPAUS_NS",
    "SEP_CONTENT_TYPE",
    "SEP_NS",
    "SepXmlError",
    "parse",
    "schema_version",
    "serialize",
]
