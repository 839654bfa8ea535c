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
import struct
import sys
import tempfile

from interop import ed25519_verify, jcs


KINDS = {"issue": 1, "revoke": 2, "suspend": 3, "reinstate": 4, "status-list": 5}


def encode(e):
    payload = jcs(e["payload"]).encode()
    return (b"vellum/entry\x01" + bytes.fromhex(e["feed"]) + struct.pack(">Q", e["seq"]) + bytes.fromhex(e["prev"])
            + struct.pack(">Q", int(e["hlc"])) + bytes([KINDS[e["kind"]]]) + struct.pack(">I", len(payload)) + payload)


def main(path, dump):
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    entries = [l for l in lines if "id" in l]
    heads = {}  # feed -> (seq, id) of the last entry checked
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
            last_seq, last_id = heads.get(e["feed"], (0, "00" * 32))
            if e["seq"] != last_seq + 1 or e["prev"] != last_id:
                print("entry %s: broken chain" % e["id"], file=sys.stderr)
                return 1
            heads[e["feed"]] = (e["seq"], e["id"])
    if dump:
        wire = encode(entries[0]) + bytes.fromhex(entries[0]["signature"])
        print((struct.pack(">I", len(wire)) + wire).hex())
    print("%d entries verified" % len(entries))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--dump-first" in sys.argv[2:]))
