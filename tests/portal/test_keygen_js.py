"""portal/static/portal/keygen.js without a browser: Node runs its DER encoder and
WebCrypto, and the server's own CSR gate judges the result. Faster than the browser test
(tests/e2e/test_vendor_keygen.py) and aimed at the edge cases a few browser runs miss."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from vendors.certificates import csr_check

KEYGEN_JS = Path(__file__).resolve().parents[2] / "portal" / "static" / "portal" / "keygen.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SCRIPT = """
const kg = require(process.argv[1]);
const hex = (b) => Buffer.from(b).toString("hex");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
(async () => {
  const out = {
    integers: input.integers.map((h) => hex(kg.integer(Buffer.from(h, "hex")))),
    signatures: input.signatures.map((h) => hex(kg.ecdsaSignatureDer(Buffer.from(h, "hex")))),
    names: input.names.map(kg.commonName),
    csrs: [],
  };
  for (let i = 0; i < input.csrs; i++) {
    out.csrs.push(await kg.generate(input.names[i % input.names.length], crypto.subtle));
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def _run(**payload) -> dict:
    done = subprocess.run(
        [NODE, "-e", SCRIPT, str(KEYGEN_JS)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "NODE_OPTIONS": ""},
    )
    return json.loads(done.stdout)


def _raw(r: int, s: int) -> str:
    return (r.to_bytes(32, "big") + s.to_bytes(32, "big")).hex()


def test_der_integers_and_signatures_match_cryptography():
    integers = ["00", "0000", "7f", "80", "00ff", "000080", "0001", "ff" * 32]
    edges = [
        (1, 1),
        (0x7F << 248, 0x80 << 248),  # high bit clear / set: no pad / 0x00 pad
        (0xFF, (1 << 256) - 1),  # 31 leading zero bytes; all ones
        (0x0080, 0x00FF << 8),  # a leading zero byte before a high bit
    ]
    out = _run(integers=integers, signatures=[_raw(r, s) for r, s in edges], names=["x"], csrs=0)
    assert out["integers"] == [
        "020100",
        "020100",
        "02017f",
        "02020080",
        "020200ff",
        "02020080",
        "020101",
        "022100" + "ff" * 32,
    ]
    assert out["signatures"] == [encode_dss_signature(r, s).hex() for r, s in edges]


def test_generated_csrs_pass_the_server_gate_and_match_their_keys():
    names = ["Volt Storage Summer Peak", "Ünïcode Énergie " * 8, "", "   "]
    out = _run(integers=[], signatures=[], names=names, csrs=12)
    assert [len(n.encode()) <= 64 for n in out["names"]] == [True] * 4
    assert out["names"][2:] == ["Reservoir client", "Reservoir client"]
    for generated in out["csrs"]:
        csr = csr_check(generated["csr"])  # the server's checks, signature included
        assert csr.signature_algorithm_oid.dotted_string == "1.2.840.10045.4.3.2"
        assert csr.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        key = serialization.load_pem_private_key(generated["keyPem"].encode(), None)
        assert key.public_key().public_numbers() == csr.public_key().public_numbers()
