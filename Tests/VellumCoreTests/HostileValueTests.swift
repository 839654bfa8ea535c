import Testing
import VellumCore

/// Values an allowed but hostile peer can put in a well-formed message: sequence numbers past
/// what storage and arithmetic hold, repeated feeds, ids that SQLite or the state root's text
/// would read differently. Each is refused when decoded, before it reaches the store.
@Suite("Hostile values in well-formed messages")
struct HostileValueTests {
    static let feed = FeedKey([UInt8](repeating: 7, count: 32))!
    static let id = EntryID([UInt8](repeating: 9, count: 32))!

    @Test("sequence numbers beyond 2^53 are refused in entries, HEADS and WANT (they used to crash the node)")
    func hugeSeq() throws {
        for seq in [UInt64(1) << 63, UInt64.max, UnsignedEntry.maximumSeq + 1] {
            #expect(throws: VellumError.self) { try SyncMessage.decode(SyncMessage.heads([FeedHead(feed: Self.feed, seq: seq, id: Self.id)]).frames(requestID: 1)) }
            #expect(throws: VellumError.self) { try SyncMessage.decode(SyncMessage.want([WantRange(feed: Self.feed, fromSeq: seq, limit: 5)]).frames(requestID: 1)) }
            let unsigned = UnsignedEntry(feed: Self.feed, seq: seq, prev: Self.id, hlc: HLC(rawValue: 1), kind: .revoke, payload: Array(#"{"credential":"urn:uuid:a"}"#.utf8))
            #expect(throws: VellumError.self) { try Entry(wireBytes: unsigned.encoding + [UInt8](repeating: 0, count: 64)) }
        }
        let highest = FeedHead(feed: Self.feed, seq: UnsignedEntry.maximumSeq, id: Self.id)
        #expect(try SyncMessage.decode(SyncMessage.heads([highest]).frames(requestID: 1)).message == .heads([highest]))
        #expect(throws: VellumError.self) { try SyncMessage.decode(SyncMessage.want([WantRange(feed: Self.feed, fromSeq: 0, limit: 5)]).frames(requestID: 1)) }
    }

    @Test("a HEADS that names one feed twice is refused")
    func repeatedFeed() {
        let head = FeedHead(feed: Self.feed, seq: 3, id: Self.id)
        #expect(throws: VellumError.self) { try SyncMessage.decode(SyncMessage.heads([head, head]).frames(requestID: 1)) }
    }

    @Test("relayed credential ids: urn:uuid: with any bytes but control characters, spaces and DEL")
    func relayedIDs() throws {
        for bad in ["urn:uuid:x\u{0}tail", "urn:uuid:a b", "urn:uuid:a\nb", "urn:uuid:a\u{7F}", "urn:example:1"] {
            #expect(throws: VellumError.self) { try StatusPayload(json: ["credential": .string(bad)]) }
            #expect(!CredentialID.isStorable(bad))
        }
        // What older versions could write, and peers may relay: stored like any other id.
        for good in ["urn:uuid:café", "urn:uuid:" + String(repeating: "x", count: 300)] {
            #expect(try StatusPayload(json: ["credential": .string(good)]).credentialID == good)
            #expect(!CredentialID.isValid(good))  // but never written or asked about by this version
        }
    }

    @Test("another spelling of the same text is another credential id and another issuer: ids and DIDs compare as bytes")
    func spellings() {
        // Each pair is equal as Swift Strings (canonical equivalence), never as bytes.
        for (a, b) in [("urn:uuid:caf\u{E9}", "urn:uuid:cafe\u{301}"), ("did:key:z6MkK", "did:key:z6Mk\u{212A}")] {
            #expect(a == b)
            #expect(!a.hasSameUTF8(as: b) && !b.hasSameUTF8(as: a))
            let (x, y) = (CredentialKey(feed: Self.feed, id: a), CredentialKey(feed: Self.feed, id: b))
            #expect(x != y && Set([x, y]).count == 2 && (x < y) != (y < x))
        }
        for (a, b) in [("", ""), ("urn:uuid:a", "urn:uuid:a"), ("urn:uuid:caf\u{E9}", "urn:uuid:caf\u{E9}"), (String(repeating: "x", count: 100), String(repeating: "x", count: 100))] {
            #expect(a.hasSameUTF8(as: b) && CredentialKey(feed: Self.feed, id: a) == CredentialKey(feed: Self.feed, id: b))
        }
        #expect(!"urn:uuid:a".hasSameUTF8(as: "urn:uuid:ab") && !"urn:uuid:b".hasSameUTF8(as: "urn:uuid:a"))
    }
}
