/// The JSON form of an entry, one per line in `vellum export` and `vellum log --json`.
/// Every field needed to re-encode, re-hash and re-verify the entry is present; `hlc` is a
/// decimal string because it exceeds 2^53.
extension Entry {
    public var json: JSON {
        let payloadJSON = (try? JSON(parsing: payload)) ?? .string(Hex.encode(payload))
        return [
            "v": 1,
            "id": .string(id.hex),
            "feed": .string(feed.hex),
            "seq": .number(Double(seq)),
            "prev": .string(prev.hex),
            "hlc": .string(String(hlc.rawValue)),
            "kind": .string(kind.description),
            "payload": payloadJSON,
            "signature": .string(Hex.encode(signature)),
        ]
    }

    /// Parses the JSON form. The result is still unverified: pass it to `EntryVerifier`.
    public init(json: JSON) throws(VellumError) {
        func field(_ name: String) throws(VellumError) -> JSON {
            guard let value = json[name] else { throw VellumError(.invalidEntry, "entry lacks '\(name)'") }
            return value
        }
        func bytes32(_ name: String) throws(VellumError) -> Bytes32 {
            guard let s = try field(name).stringValue, let b = Bytes32(hex: s) else {
                throw VellumError(.invalidEntry, "entry '\(name)' is not 64 hex digits")
            }
            return b
        }
        guard try field("v") == 1 else { throw VellumError(.invalidEntry, "unsupported entry version \(json["v"]!.canonicalString)") }
        guard let seq = try field("seq").numberValue, seq >= 1, seq == seq.rounded(), seq <= Double(UnsignedEntry.maximumSeq) else {
            throw VellumError(.invalidEntry, "entry 'seq' is not a positive integer")
        }
        guard let hlcText = try field("hlc").stringValue, let hlc = UInt64(hlcText) else {
            throw VellumError(.invalidEntry, "entry 'hlc' is not a decimal string")
        }
        guard let kindName = try field("kind").stringValue, let kind = EntryKind(name: kindName) else {
            throw VellumError(.invalidEntry, "entry 'kind' is not one of issue, revoke, suspend, reinstate, status-list")
        }
        let payload = try field("payload")
        guard payload.objectValue != nil else { throw VellumError(.invalidEntry, "entry 'payload' is not an object") }
        guard let sigText = try field("signature").stringValue, let signature = Hex.decode(sigText), signature.count == 64 else {
            throw VellumError(.invalidEntry, "entry 'signature' is not 128 hex digits")
        }
        let unsigned = UnsignedEntry(
            feed: try bytes32("feed"), seq: UInt64(seq), prev: try bytes32("prev"), hlc: HLC(rawValue: hlc), kind: kind,
            payload: payload.canonicalBytes)
        self.init(unsigned: unsigned, id: try bytes32("id"), signature: signature)
    }
}

extension Entry {
    /// Entries as a canonical JSON array (`writeCanonicalJSON` each): the evidence of answers.
    public static func canonicalJSONArray(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(entries.count * 1024)
        for (i, e) in entries.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            e.writeCanonicalJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// `json.canonicalBytes`, written directly: the payload bytes go in as they are, which is
    /// their canonical form for any entry that passed `EntryVerifier` (it checks exactly
    /// that). Status answers use it so that serving one costs no JSON parsing.
    public func writeCanonicalJSON(into out: inout [UInt8]) {
        func hex(_ bytes: Bytes32) {
            out.append(UInt8(ascii: "\""))
            bytes.writeHex(into: &out)
            out.append(UInt8(ascii: "\""))
        }
        // Keys in JCS order: feed, hlc, id, kind, payload, prev, seq, signature, v.
        out.append(contentsOf: #"{"feed":"#.utf8); hex(feed)
        out.append(contentsOf: #","hlc":""#.utf8); out.append(contentsOf: String(hlc.rawValue).utf8)
        out.append(contentsOf: #"","id":"#.utf8); hex(id)
        out.append(contentsOf: #","kind":"#.utf8); JSON.writeString(kind.description, into: &out)
        out.append(contentsOf: #","payload":"#.utf8); out.append(contentsOf: payload)
        out.append(contentsOf: #","prev":"#.utf8); hex(prev)
        out.append(contentsOf: #","seq":"#.utf8); out.append(contentsOf: String(seq).utf8)
        out.append(contentsOf: #","signature":""#.utf8); Hex.write(signature, into: &out)
        out.append(contentsOf: #"","v":1}"#.utf8)
    }
}
