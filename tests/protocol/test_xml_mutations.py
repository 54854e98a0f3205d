"""Property: whatever the codec accepts, the official schema accepts too.

Each example document is mutated deterministically (elements dropped, swapped or
duplicated, values replaced with edge cases). The codec must either refuse the result
with SepXmlError (never another exception) or accept it, in which case the mutated
document must be schema-valid and re-serialize to a schema-valid document.
"""

import random
import zlib

import pytest
from lxml import etree

from protocol.xml import SepXmlError, parse, serialize
from tests.protocol.examples import EXAMPLES, csipaus_examples
from tests.protocol.schema import schema_errors

EDGE_VALUES = [
    "",
    " ",
    "-1",
    "0",
    "1",
    "+7",
    "255",
    "256",
    "10001",
    "-10001",
    "32768",
    "-32769",
    "4294967296",
    "9223372036854775808",
    "1.5",
    "1e3",
    "true",
    "TRUE",
    "ABCDEF",
    "ABC",
    "zz",
    "x" * 33,
    "x" * 193,
]


def mutations(body: bytes, seed: int, count: int = 60):
    rng = random.Random(seed)
    for _ in range(count):
        root = etree.fromstring(body)
        elements = list(root.iter())
        target = rng.choice(elements)
        action = rng.choice(["drop", "swap", "duplicate", "value", "value"])
        parent = target.getparent()
        if action == "drop" and parent is not None:
            parent.remove(target)
        elif action == "swap" and parent is not None and len(parent) > 1:
            siblings = list(parent)
            i, j = rng.sample(range(len(siblings)), 2)
            a, b = siblings[i], siblings[j]
            a_next = a.getnext()
            b.addnext(a) if a_next is not b else None
            parent.insert(i, b)
        elif action == "duplicate" and parent is not None:
            target.addnext(etree.fromstring(etree.tostring(target)))
        else:
            leaves = [e for e in elements if len(e) == 0 and e is not root]
            if leaves:
                rng.choice(leaves).text = rng.choice(EDGE_VALUES)
        yield etree.tostring(root)


CASES = [(name, build, "csip") for name, build in sorted(EXAMPLES.items())] + [
    (f"csipaus-{name}", (lambda obj=obj: obj), "csipaus")
    for name, obj in sorted(csipaus_examples().items())
]


@pytest.mark.parametrize(("name", "build", "profile"), CASES, ids=[c[0] for c in CASES])
def test_accepted_mutations_are_schema_valid(name, build, profile):
    body = serialize(build())
    for index, mutated in enumerate(mutations(body, seed=zlib.crc32(name.encode()))):
        try:
            parsed = parse(mutated, profile=profile)
        except SepXmlError:
            continue
        assert schema_errors(mutated, profile) == [], (index, mutated)
        assert schema_errors(serialize(parsed, profile=profile), profile) == [], (index, mutated)
