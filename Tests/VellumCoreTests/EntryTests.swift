@preconcurrency import Crypto
import Testing
import VellumCore

@Suite("Entries: encoding, signing and verification")
struct EntryTests {
    static func history() -> (FeedWriter, [LinkedEntry]) {
        var writer = FeedWriter(key: try! .init(rawRepresentation: [UInt8](repeating: 9, count: 32)), head: nil, clock: HLC(rawValue: 0))
        let payload = samplePayload("urn:uuid:00000000-0000-4000-8000-000000000001", issuer: writer.feed.didKey.did)
        let entries = writer.append(
            [(.issue, .issue(payload)), (.suspend, .status(.init(credentialID: payload.credentialID, reason: "audit")))],
            now: Timestamp(millisecondsSinceEpoch: 1_000_000))
        return (writer, entries)
    }

    @Test("the encoding is the documented byte layout")
    func encodingLayout() {
        let (_, entries) = Self.history()
        let e = entries[1].entry
        let bytes = e.unsigned.encoding
        #expect(Array(bytes.prefix(13)) == Array("vellum/entry".utf8) + [1])
        #expect(Array(bytes[13..<45]) == e.feed.bytes)
        #expect(Array(bytes[45..<53]) == [0, 0, 0, 0, 0, 0, 0, 2])
        #expect(Array(bytes[53..<85]) == entries[0].id.bytes)
        #expect(bytes[93] == EntryKind.suspend.rawValue)
        #expect(Array(bytes[98...]) == Array(#"{"credential":"urn:uuid:00000000-0000-4000-8000-000000000001","reason":"audit"}"#.utf8))
        #expect(Array(bytes[94..<98]) == [0, 0, 0, UInt8(bytes.count - 98)])
    }

    @Test("a chain verifies, and every kind of tampering is named")
    func verification() async throws {
        let (_, entries) = Self.history()
        let raw = entries.map(\.entry)
        let verified = try await EntryVerifier.verify(raw, heads: [:], knownID: { _, _ in nil })
        #expect(verified.map(\.id) == entries.map(\.id))

        let e = raw[1]
        let u = e.unsigned
        func rebuilt(_ u: UnsignedEntry) -> Entry { Entry(unsigned: u, id: u.id, signature: e.signature) }
        let forged: [(String, Entry)] = [
            ("payload changed", Entry(unsigned: UnsignedEntry(feed: u.feed, seq: u.seq, prev: u.prev, hlc: u.hlc, kind: u.kind, payload: Array(#"{"credential":"urn:uuid:2"}"#.utf8)), id: e.id, signature: e.signature)),
            ("resigned id, old signature", rebuilt(UnsignedEntry(feed: u.feed, seq: u.seq, prev: u.prev, hlc: HLC(rawValue: 5), kind: u.kind, payload: u.payload))),
            ("signature flipped", Entry(unsigned: u, id: e.id, signature: e.signature.map { $0 ^ 1 })),
        ]
        for (name, f) in forged {
            #expect(throws: VellumError.self, "\(name)") { try EntryVerifier.verifyContents(f) }
        }
        // A broken prev link or a gap in seq is refused.
        await #expect(throws: VellumError.self) { try await EntryVerifier.verify([raw[1]], heads: [:], knownID: { _, _ in nil }) }
        // Replays of held entries are skipped, not stored twice.
        let head = FeedHead(feed: e.feed, seq: 2, id: e.id)
        let replay = try await EntryVerifier.verify(raw, heads: [e.feed: head], knownID: { _, seq in raw[Int(seq) - 1].id })
        #expect(replay.isEmpty)
    }

    @Test("an issue entry whose issuer is another key is unauthorized")
    func unauthorizedIssue() throws {
        var writer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let other = try DIDKey(publicKey: Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation))
        let payload = samplePayload("urn:uuid:1", issuer: other.did)
        let entry = writer.append([(.issue, .issue(payload))], now: Timestamp(millisecondsSinceEpoch: 1))[0].entry
        #expect(throws: VellumError(.unauthorized, "")) { try EntryVerifier.verifyContents(entry) }
    }
}
