"""Parse untrusted 2030.5 bodies without letting them reach the network, the file system
or unbounded memory."""

from django.conf import settings
from lxml import etree

from protocol.xml.errors import SepXmlError

DEFAULT_MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32


def max_body_bytes() -> int:
    return int(getattr(settings, "SEP2_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


def _parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers keep state and are not shared across threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        strip_cdata=True,
        collect_ids=False,
    )


def parse_document(
    body: bytes, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH
) -> etree._Element:
    """Return the root element of `body`, or raise SepXmlError saying why it was refused."""
    if not isinstance(body, bytes | bytearray | memoryview):
        raise SepXmlError("body must be bytes")
    body = bytes(body)
    limit = max_body_bytes() if max_bytes is None else max_bytes
    if len(body) > limit:
        raise SepXmlError(f"body of {len(body)} bytes exceeds the limit of {limit} bytes")
    if not body.strip():
        raise SepXmlError("empty body")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SepXmlError("body is not UTF-8") from exc
    # 2030.5 has no use for a DTD; refusing it up front closes XXE and entity expansion.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise SepXmlError("DOCTYPE and entity declarations are not allowed")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise SepXmlError(f"malformed XML: {exc.msg}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SepXmlError("DOCTYPE and entity declarations are not allowed")
    if (docinfo.encoding or "UTF-8").upper() not in ("UTF-8", "UTF8"):
        raise SepXmlError(f"encoding {docinfo.encoding} is not allowed, use UTF-8")
    # A tree deeper than max_depth has at least 2 * max_depth + 1 tags (every element but
    # the innermost opens and closes): a body with fewer "<" is not walked for its depth.
    if body.count(b"<") > 2 * max_depth:
        _check_depth(root, max_depth)
    elif next(root.iter(etree.Entity), None) is not None:
        raise SepXmlError("entity references are not allowed")
    return root


def _check_depth(root: etree._Element, max_depth: int) -> None:
    depth = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            depth += 1
            if depth > max_depth:
                raise SepXmlError(f"nesting deeper than {max_depth} levels")
            if not isinstance(element.tag, str):
                raise SepXmlError("entity references are not allowed")
        else:
            depth -= 1
