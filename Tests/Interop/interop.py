"""Shared pieces of the independent verifiers: RFC 8785, base58btc and Ed25519 via OpenSSL.
Written from the specifications; shares no code with Vellum."""
import json
import os
import subprocess

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(text):
    n = 0
    for ch in text:
        n = n * 58 + B58.index(ch)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + raw


def jcs(value):
    """RFC 8785 for the values Vellum's documents hold (integers only, no fractions)."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs(k) + ":" + jcs(value[k]) for k in keys) + "}"
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
    raise ValueError("unsupported value %r" % (value,))


def ed25519_verify(public_key, message, signature, tmp):
    """OpenSSL's Ed25519 (RFC 8032) check; the key as SubjectPublicKeyInfo DER (fixed prefix)."""
    paths = {}
    for name, blob in (("key.der", bytes.fromhex("302a300506032b6570032100") + public_key), ("msg", message), ("sig", signature)):
        paths[name] = os.path.join(tmp, name)
        with open(paths[name], "wb") as f:
            f.write(blob)
    result = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", paths["key.der"],
                             "-rawin", "-in", paths["msg"], "-sigfile", paths["sig"]], capture_output=True, text=True)
    return result.returncode == 0
