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

    /// Builds, chains and signs entries of the given kinds.
    public mutating func append(_ items: [(EntryKind, EntryPayload)], now: Timestamp) -> [LinkedEntry] {
        var unsigned: [(UnsignedEntry, EntryID)] = []
        for (kind, payload) in items {
            clock = clock.tick(now: now)
            unsigned.append(chain(kind: kind, payload: payload))
        }
        return sign(unsigned, payloads: items.map(\.1))
    }

    private mutating func chain(kind: EntryKind, payload: EntryPayload) -> (UnsignedEntry, EntryID) {
        let u = UnsignedEntry(
            feed: feed, seq: (head?.seq ?? 0) + 1, prev: head?.id ?? .zero, hlc: clock, kind: kind,
            payload: payload.json.canonicalBytes)
        let id = u.id
        head = FeedHead(feed: feed, seq: u.seq, id: id)
        return (u, id)
    }

    private func sign(_ unsigned: [(UnsignedEntry, EntryID)], payloads: [EntryPayload]) -> [LinkedEntry] {
        let signatures = Parallel.map(unsigned) { item in
            Array(try! key.signature(for: item.1.bytes))
        }
        return unsigned.indices.map { i in
            LinkedEntry(VerifiedEntry(
                entry: Entry(unsigned: unsigned[i].0, id: unsigned[i].1, signature: signatures[i]),
                payload: payloads[i]))
        }
    }
}
