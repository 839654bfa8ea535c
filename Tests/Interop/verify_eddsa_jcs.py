#!/usr/bin/env python3
"""An independent eddsa-jcs-2022 verifier, sharing no code with Vellum.

Python's standard library does RFC 8785 and base58btc; the Ed25519 check is OpenSSL's
(`openssl pkeyutl -verify -rawin`). Usage: verify_eddsa_jcs.py CREDENTIAL.json [--any-issuer]
Prints the signer's did:key and exits 0 only if the proof verifies and (unless --any-issuer,
for the W3C vector whose issuer is an https URL) the did:key is the issuer.
"""
import hashlib
import json
import sys
import tempfile

from interop import b58decode, ed25519_verify, jcs


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

    with tempfile.TemporaryDirectory() as tmp:
        if not ed25519_verify(public_key, data, signature, tmp):
            print("signature does not verify", file=sys.stderr)
            return 1
    print(did)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1], "--any-issuer" not in sys.argv[2:]))
    except (AssertionError, KeyError, ValueError) as e:
        print("invalid: %s" % e, file=sys.stderr)
        sys.exit(1)
