@preconcurrency import Crypto

/// Appends to a node's own feed: assigns seq, prev and HLC, computes ids in chain order and
/// signs. Entries it makes are correct by construction, so it may mint `LinkedEntry`s.
public struct FeedWriter: Sendable {
    public let key: Curve25519.Signing.PrivateKey
    public let feed: FeedKey
    public private(set) var head: FeedHead?
    public private(set) var clock: HLC

    public init(key: Curve25519.Signing.PrivateKey, head: FeedHead?, clock: HLC) {
        self.key = key
        self.feed = FeedKey(key.publicKey.rawRepresentation)!
        self.head = head
        self.clock = clock
    }

    /// Builds, chains and signs entries of the given kinds, one after another (a status change
    /// and its lists: a few signatures).
    public mutating func append(_ items: [(EntryKind, EntryPayload)], now: Timestamp) -> [LinkedEntry] {
        let unsigned = chain(items, now: now)
        let key = self.key
        return seal(unsigned, signatures: unsigned.map { Array(try! key.signature(for: $0.1.bytes)) }, payloads: items.map(\.1))
    }

    /// The same, signing on every core: for bulk issuance.
    public mutating func appendSigningInParallel(_ items: [(EntryKind, EntryPayload)], now: Timestamp) async -> [LinkedEntry] {
        let unsigned = chain(items, now: now)
        let key = self.key
        let signatures = await Parallel.map(unsigned.map(\.1)) { id in Array(try! key.signature(for: id.bytes)) }
        return seal(unsigned, signatures: signatures, payloads: items.map(\.1))
    }

    private mutating func chain(_ items: [(EntryKind, EntryPayload)], now: Timestamp) -> [(UnsignedEntry, EntryID)] {
        items.map { kind, payload in
            clock = clock.tick(now: now)
            return chain(kind: kind, payload: payload)
        }
    }

    private mutating func chain(kind: EntryKind, payload: EntryPayload) -> (UnsignedEntry, EntryID) {
        let u = UnsignedEntry(
            feed: feed, seq: (head?.seq ?? 0) + 1, prev: head?.id ?? .zero, hlc: clock, kind: kind,
            payload: payload.json.canonicalBytes)
        let id = u.id
        head = FeedHead(feed: feed, seq: u.seq, id: id)
        return (u, id)
    }

    private func seal(_ unsigned: [(UnsignedEntry, EntryID)], signatures: [[UInt8]], payloads: [EntryPayload]) -> [LinkedEntry] {
        unsigned.indices.map { i in
            LinkedEntry(VerifiedEntry(
                entry: Entry(unsigned: unsigned[i].0, id: unsigned[i].1, signature: signatures[i]),
                payload: payloads[i]))
        }
    }
}
