import VellumCore
import VellumNode

/// What libFuzzer drives (`Scripts/fuzz`): every parser that takes bytes from outside the node.
/// A target must never crash on any input; where a parse succeeds it also checks a property
/// (re-encoding round-trips, canonical form is a fixed point), so a wrong answer fails too.
public struct FuzzTarget: Sendable {
    public let name: String
    public let about: String
    public let run: @Sendable ([UInt8]) -> Void

    public static let all: [FuzzTarget] = [
        FuzzTarget(name: "wire", about: "sync message decoder (ZeroMQ frames from a peer)") { bytes in
            guard let (id, message) = try? SyncMessage.decode(frames(bytes)) else { return }
            let again = try? SyncMessage.decode(message.frames(requestID: id))
            require(again?.requestID == id && again?.message == message, "a decoded message does not round-trip")
        },
        FuzzTarget(name: "entry", about: "binary entry decoder (wire and log form)") { bytes in
            guard let entry = try? Entry(wireBytes: bytes) else { return }
            require(entry.wireBytes == bytes, "a decoded entry re-encodes to other bytes")
            // The JSON form (export, log) carries entries whose payload passed the checks: canonical JSON.
            guard (try? EntryPayload(kind: entry.kind, bytes: entry.payload)) != nil else { return }
            let fromJSON = try? Entry(json: entry.json)
            require(fromJSON?.wireBytes == bytes, "an entry's JSON form does not round-trip")
        },
        FuzzTarget(name: "json", about: "JSON parser and JCS canonicalizer") { bytes in
            guard let value = try? JSON(parsing: bytes, maximumValues: 100_000) else { return }
            let canonical = value.canonicalBytes
            let reparsed = try? JSON(parsing: canonical)
            require(reparsed?.canonicalBytes == canonical, "JCS output is not a fixed point of parse + canonicalize")
        },
        FuzzTarget(name: "credential", about: "credential verifier (structure, eddsa-jcs-2022 proof, issuer)") { bytes in
            guard let value = try? JSON(parsing: bytes, maximumValues: 100_000) else { return }
            _ = CredentialVerifier.verify(value, record: nil, at: Timestamp(millisecondsSinceEpoch: 1_800_000_000_000))
        },
        FuzzTarget(name: "presentation", about: "presentation verifier (holder proof, challenge, domain)") { bytes in
            guard let value = try? JSON(parsing: bytes, maximumValues: 100_000) else { return }
            _ = PresentationVerifier.verify(value, challenge: "c", domain: "d") {
                CredentialVerifier.verify($0, record: nil, at: Timestamp(millisecondsSinceEpoch: 1_800_000_000_000))
            }
        },
        FuzzTarget(name: "csv", about: "CSV reader and bulk-issuance rows") { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? BulkIssuance.rows(csv: text, file: "fuzz.csv", now: Timestamp(millisecondsSinceEpoch: 1_800_000_000_000))
        },
        FuzzTarget(name: "export", about: "export file reader (vellum import)") { bytes in
            guard let entries = try? Node.parseExport(String(decoding: bytes, as: UTF8.self), file: "fuzz.jsonl") else { return }
            for entry in entries { require((try? Entry(wireBytes: entry.wireBytes)) != nil, "an imported entry does not re-decode") }
        },
        FuzzTarget(name: "federation", about: "federation documents (genesis, proposals, org events) and did:key") { bytes in
            guard let value = try? JSON(parsing: bytes, maximumValues: 100_000) else { return }
            if let document = try? FederationDocument(json: value) {
                require((try? FederationDocument(json: document.json)) == document, "a federation document does not round-trip")
            }
            if let text = value.stringValue { _ = try? DIDKey(parsing: text) }
        },
        FuzzTarget(name: "statuslist", about: "status list names and signed status-list payloads") { bytes in
            _ = try? StatusListName(parsing: String(decoding: bytes, as: UTF8.self))
            guard let value = try? JSON(parsing: bytes, maximumValues: 100_000) else { return }
            _ = try? StatusListPayload(json: value)
        },
    ]

    public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }

    /// Frames from fuzz bytes: each is a 2-byte big-endian length and that many bytes.
    static func frames(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var i = 0
        while i + 2 <= bytes.count {
            let length = Int(bytes[i]) << 8 | Int(bytes[i + 1])
            let end = min(bytes.count, i + 2 + length)
            frames.append(Array(bytes[(i + 2)..<end]))
            i = end
        }
        return frames
    }

    static func require(_ condition: Bool, _ message: String) {
        if !condition { fatalError("fuzz property violated: \(message)") }
    }
}
