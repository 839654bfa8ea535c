#!/usr/bin/env python3
"""Independent verification of Vellum entries from Docs/PROTOCOL.md alone (Python stdlib + OpenSSL).

Usage: verify_entries.py EXPORT.jsonl [--dump-first]
Re-encodes every entry of a `vellum export` file byte by byte, checks that SHA-256 of the
encoding is the entry's id, that the Ed25519 signature verifies over the id with the feed key,
and that prev links chain. Prints "N entries verified" or names the first bad entry.
With --dump-first, prints the wire form (length ‖ encoding ‖ signature) of the first entry in hex.
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

KINDS = {"issue": 1, "revoke": 2, "suspend": 3, "reinstate": 4}


def jcs(value):
    if isinstance(value, dict):
        return "{" + ",".join(jcs(k) + ":" + jcs(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-16-be"))) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise ValueError("unsupported %r" % (value,))


def encode(e):
    payload = jcs(e["payload"]).encode()
    return (b"vellum/entry\x01" + bytes.fromhex(e["feed"]) + struct.pack(">Q", e["seq"]) + bytes.fromhex(e["prev"])
            + struct.pack(">Q", int(e["hlc"])) + bytes([KINDS[e["kind"]]]) + struct.pack(">I", len(payload)) + payload)


def ed25519_verify(public_key, message, signature, tmp):
    paths = {}
    for name, blob in (("key", bytes.fromhex("302a300506032b6570032100") + public_key), ("msg", message), ("sig", signature)):
        paths[name] = os.path.join(tmp, name)
        with open(paths[name], "wb") as f:
            f.write(blob)
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", paths["key"], "-rawin",
                        "-in", paths["msg"], "-sigfile", paths["sig"]], capture_output=True)
    return r.returncode == 0


def main(path, dump):
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    entries = [l for l in lines if "id" in l]
    heads = {}
    with tempfile.TemporaryDirectory() as tmp:
        for e in sorted(entries, key=lambda e: (e["feed"], e["seq"])):
            encoding = encode(e)
            entry_id = hashlib.sha256(encoding).digest()
            if entry_id.hex() != e["id"]:
                print("entry %s: id does not match its encoding" % e["id"], file=sys.stderr)
                return 1
            if not ed25519_verify(bytes.fromhex(e["feed"]), entry_id, bytes.fromhex(e["signature"]), tmp):
                print("entry %s: bad signature" % e["id"], file=sys.stderr)
                return 1
            expected_prev = heads.get(e["feed"], "00" * 32)
            if e["seq"] != (1 if e["feed"] not in heads else heads[e["feed"] + ":seq"] + 1) or e["prev"] != expected_prev:
                print("entry %s: broken chain" % e["id"], file=sys.stderr)
                return 1
            heads[e["feed"]] = e["id"]
            heads[e["feed"] + ":seq"] = e["seq"]
    if dump:
        wire = encode(entries[0]) + bytes.fromhex(entries[0]["signature"])
        print((struct.pack(">I", len(wire)) + wire).hex())
    print("%d entries verified" % len(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--dump-first" in sys.argv[2:]))
