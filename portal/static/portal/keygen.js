/* Vendor certificates: an ECDSA P-256 key made in this browser with WebCrypto, and a
   PKCS#10 CSR for it in the form's CSR field. The private key is offered as a download
   and never put in the form: the server sees only the CSR, and checks it like any other. */
(function (root) {
  "use strict";

  // --- DER, only what a PKCS#10 request needs -----------------------------------------

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  function tlv(tag, body) {
    const n = body.length;
    let len;
    if (n < 0x80) len = [n];
    else if (n < 0x100) len = [0x81, n];
    else if (n < 0x10000) len = [0x82, n >> 8, n & 0xff];
    else throw new Error("DER value too long");
    return concat([Uint8Array.of(tag), Uint8Array.from(len), body]);
  }

  const sequence = (...items) => tlv(0x30, concat(items));

  // An unsigned big-endian integer: no superfluous leading zeros, and a 0x00 prefix when
  // the high bit is set (DER integers are signed).
  function integer(bytes) {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let body = bytes.slice(i);
    if (body[0] & 0x80) body = concat([Uint8Array.of(0), body]);
    return tlv(0x02, body);
  }

  const OID_COMMON_NAME = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03); // 2.5.4.3
  // ecdsa-with-SHA256 (1.2.840.10045.4.3.2), parameters absent (RFC 5758 §3.2)
  const ECDSA_WITH_SHA256 = sequence(
    Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02)
  );
  const MAX_CN_BYTES = 64; // ub-common-name; counted in UTF-8 bytes, as strict parsers do

  // The CN trimmed to 64 UTF-8 bytes without splitting a character.
  function commonName(text) {
    const encoder = new TextEncoder();
    let cn = "", size = 0;
    for (const ch of String(text).trim()) {
      size += encoder.encode(ch).length;
      if (size > MAX_CN_BYTES) break;
      cn += ch;
    }
    return cn.trim() || "Reservoir client";
  }

  function name(cn) {
    const utf8 = tlv(0x0c, new TextEncoder().encode(commonName(cn)));
    return sequence(tlv(0x31, sequence(OID_COMMON_NAME, utf8)));
  }

  // WebCrypto's ECDSA signature is raw r || s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
  function ecdsaSignatureDer(raw) {
    const half = raw.length / 2;
    return sequence(integer(raw.slice(0, half)), integer(raw.slice(half)));
  }

  function pem(label, der) {
    let binary = "";
    for (const b of der) binary += String.fromCharCode(b);
    const lines = btoa(binary).match(/.{1,64}/g).join("\n");
    return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
  }

  // CertificationRequest (RFC 2986 §4) for a P-256 key pair, signed with its private key.
  async function csrFor(keyPair, cn, subtle) {
    const spki = new Uint8Array(await subtle.exportKey("spki", keyPair.publicKey));
    const info = sequence(integer(Uint8Array.of(0)), name(cn), spki, Uint8Array.of(0xa0, 0x00));
    const raw = new Uint8Array(
      await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keyPair.privateKey, info)
    );
    const signature = tlv(0x03, concat([Uint8Array.of(0), ecdsaSignatureDer(raw)]));
    return pem("CERTIFICATE REQUEST", sequence(info, ECDSA_WITH_SHA256, signature));
  }

  async function generate(cn, subtle) {
    const keyPair = await subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]
    );
    const csr = await csrFor(keyPair, cn, subtle);
    const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", keyPair.privateKey));
    return { csr, keyPem: pem("PRIVATE KEY", pkcs8) };
  }

  const api = { integer, ecdsaSignatureDer, commonName, csrFor, generate, pem };
  if (typeof module === "object" && module.exports) module.exports = api; // unit tests (node)
  if (typeof document === "undefined") return;
  root.Reservoir = root.Reservoir || {};
  root.Reservoir.keygen = api;

  // --- The certificate form --------------------------------------------------------------

  const box = document.getElementById("keygen");
  if (!box) return;
  const form = box.closest("form");
  const csrField = form.querySelector("textarea[name=csr]");
  const button = document.getElementById("keygen-button");
  const status = document.getElementById("keygen-status");
  const offer = document.getElementById("keygen-offer");
  const link = document.getElementById("keygen-download");
  let generatedCsr = null, downloaded = false;
  box.hidden = false;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  button.addEventListener("click", async () => {
    if (!root.isSecureContext || !root.crypto || !root.crypto.subtle) {
      say("This browser will not generate keys on this page: WebCrypto is only available " +
          "on pages served over HTTPS or from localhost. Open the portal over HTTPS, or " +
          "upload a CSR made with your own tools.", true);
      return;
    }
    button.disabled = true;
    say("Generating a P-256 key…");
    try {
      const { csr, keyPem } = await generate(box.dataset.commonName, root.crypto.subtle);
      if (link.getAttribute("href")) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([keyPem], { type: "application/x-pem-file" }));
      link.download = box.dataset.filename;
      csrField.value = generatedCsr = csr;
      downloaded = false;
      offer.hidden = false;
      link.hidden = false;
      say("Key generated. Its CSR is in the field above; download the private key, then " +
          "issue the certificate.");
    } catch (err) {
      say(`The browser could not generate a key (${err.name || err}). Upload a CSR instead.`,
          true);
    } finally {
      button.disabled = false;
    }
  });

  // One download: the link goes once clicked, and its object URL soon after (revoking it
  // in the click itself could cancel the download).
  link.addEventListener("click", () => {
    downloaded = true;
    const url = link.href;
    setTimeout(() => {
      link.hidden = true;
      link.removeAttribute("href");
      say("Private key downloaded. This page no longer offers it; keep the file safe.");
    }, 0);
    setTimeout(() => URL.revokeObjectURL(url), 2000);
  });

  form.addEventListener("submit", (event) => {
    if (generatedCsr !== null && csrField.value === generatedCsr && !downloaded) {
      event.preventDefault();
      say("Download the private key first: without it the certificate cannot be used.", true);
    }
  });
})(typeof window === "undefined" ? globalThis : window);
