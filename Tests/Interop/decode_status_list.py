#!/usr/bin/env python3
"""Independent decoder of a W3C Bitstring Status List credential (Python stdlib only).

Usage: decode_status_list.py FILE-OR-URL [--save FILE]
Reads the BitstringStatusListCredential from a file or fetches it over HTTP, undoes the
multibase 'u' (base64url, no padding) and GZIP, and prints: PURPOSE SIZE [set indexes],
index 0 being the left-most bit of the first byte. --save writes the credential to FILE.
"""
import base64
import gzip
import json
import sys
import urllib.request


def load(source):
    if source.startswith("http://") or source.startswith("https://"):
        with urllib.request.urlopen(source, timeout=10) as response:
            return json.load(response)
    with open(source) as f:
        return json.load(f)


def main(source, save):
    credential = load(source)
    if save:
        with open(save, "w") as f:
            json.dump(credential, f)
    subject = credential["credentialSubject"]
    encoded = subject["encodedList"]
    if not encoded.startswith("u"):
        print("encodedList is not base64url multibase", file=sys.stderr)
        return 1
    body = encoded[1:]
    bits = gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    size = len(bits) * 8
    print(subject["statusPurpose"], size, [i for i in range(size) if bits[i // 8] & (0x80 >> (i % 8))])
    return 0


if __name__ == "__main__":
    save = sys.argv[sys.argv.index("--save") + 1] if "--save" in sys.argv else None
    sys.exit(main(sys.argv[1], save))
