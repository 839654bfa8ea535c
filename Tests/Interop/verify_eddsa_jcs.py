#!/usr/bin/env python3
"""An independent eddsa-jcs-2022 verifier, sharing no code with Vellum.

Python's standard library does RFC 8785 and base58btc; the Ed25519 check is OpenSSL's
(`openssl pkeyutl -verify -rawin`). Usage: verify_eddsa_jcs.py CREDENTIAL.json [--any-issuer]
Prints the signer's did:key and exits 0 only if the proof verifies and (unless --any-issuer,
for the W3C vector whose issuer is an https URL) the did:key is the issuer.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(text):
    n = 0
    for ch in text:
        n = n * 58 + B58.index(ch)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def jcs(value):
    """RFC 8785 for the values a credential holds (no non-integer numbers)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(value[k]) for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ValueError("unsupported value %r" % (value,))


def main(path, check_issuer):
    with open(path, encoding="utf-8") as f:
        secured = json.load(f)
    proof = dict(secured["proof"])
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-jcs-2022", "wrong suite"
    value = proof.pop("proofValue")
    assert value.startswith("z"), "proofValue is not base58btc multibase"
    signature = b58decode(value[1:])
    document = {k: v for k, v in secured.items() if k != "proof"}
    data = hashlib.sha256(jcs(proof).encode()).digest() + hashlib.sha256(jcs(document).encode()).digest()

    did, _, fragment = proof["verificationMethod"].partition("#")
    assert did.startswith("did:key:z") and fragment == did[len("did:key:"):], "not a did:key verification method"
    multicodec = b58decode(did[len("did:key:z"):])
    assert multicodec[:2] == b"\xed\x01" and len(multicodec) == 34, "not an Ed25519 did:key"
    public_key = multicodec[2:]
    issuer = secured["issuer"]["id"] if isinstance(secured["issuer"], dict) else secured["issuer"]
    assert issuer == did or not check_issuer, "issuer %s is not the signer %s" % (issuer, did)

    # SubjectPublicKeyInfo DER for Ed25519: fixed 12-byte prefix, then the key.
    der = bytes.fromhex("302a300506032b6570032100") + public_key
    with tempfile.TemporaryDirectory() as tmp:
        for name, blob in (("key.der", der), ("data", data), ("sig", signature)):
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(blob)
        result = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", os.path.join(tmp, "key.der"),
             "-rawin", "-in", os.path.join(tmp, "data"), "-sigfile", os.path.join(tmp, "sig")],
            capture_output=True, text=True)
    if result.returncode != 0:
        print("signature does not verify: " + (result.stdout + result.stderr).strip(), file=sys.stderr)
        return 1
    print(did)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], "--any-issuer" not in sys.argv[2:]))
    except (AssertionError, KeyError, ValueError) as e:
        print("invalid: %s" % e, file=sys.stderr)
        sys.exit(1)
