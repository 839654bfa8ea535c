@preconcurrency import Crypto

/// Appends to a node's own feed: assigns seq, prev and HLC, computes ids in chain order and
/// signs. Entries it makes are correct by construction, so it may mint `LinkedEntry`s.
///
/// At every seq that is a multiple of `CheckpointPayload.interval` it puts a checkpoint over
/// the signatures since the previous one (`pending`: those it made, after those its caller
/// passed in from the store); `closeRun` puts one at the end of a bulk batch.
public struct FeedWriter: Sendable {
    public let key: Curve25519.Signing.PrivateKey
    public let feed: FeedKey
    public private(set) var head: FeedHead?
    public private(set) var clock: HLC
    /// Signatures of the feed's entries since its last checkpoint, in seq order.
    public private(set) var pending: [[UInt8]]

    /// `pending`: the signatures of the feed's entries after its last checkpoint up to `head`
    /// (`LedgerStore.signaturesSinceCheckpoint`); fewer only shortens what the next checkpoint
    /// covers.
    public init(key: Curve25519.Signing.PrivateKey, head: FeedHead?, clock: HLC, pending: [[UInt8]] = []) {
        self.key = key
        self.feed = FeedKey(key.publicKey.rawRepresentation)!
        self.head = head
        self.clock = clock
        self.pending = pending
    }

    /// Builds, chains and signs entries of the given kinds, one after another (a status change
    /// and its lists: a few signatures).
    public mutating func append(_ items: [(EntryKind, EntryPayload)], now: Timestamp) -> [LinkedEntry] {
        var rest = items[...], out: [LinkedEntry] = []
        while let (checkpoint, segment) = nextSegment(&rest, now: now) {
            let key = self.key
            out += checkpoint + seal(segment, signatures: segment.map { Array(try! key.signature(for: $0.1.bytes)) })
        }
        return out
    }

    /// The same, signing on every core: for bulk issuance.
    public mutating func appendSigningInParallel(_ items: [(EntryKind, EntryPayload)], now: Timestamp) async -> [LinkedEntry] {
        var rest = items[...], out: [LinkedEntry] = []
        while let (checkpoint, segment) = nextSegment(&rest, now: now) {
            let key = self.key
            out += checkpoint + seal(segment, signatures: await Parallel.map(segment.map(\.1)) { Array(try! key.signature(for: $0.bytes)) })
        }
        return out
    }

    /// The checkpoint due at the next seq (if any), then at least one item from the front of
    /// `rest` chained, and more up to the next checkpoint position: a run to sign before the
    /// next checkpoint can be computed. Nil when nothing is left.
    private mutating func nextSegment(
        _ rest: inout ArraySlice<(EntryKind, EntryPayload)>, now: Timestamp
    ) -> ([LinkedEntry], [(UnsignedEntry, EntryID, EntryPayload)])? {
        guard !rest.isEmpty else { return nil }
        let checkpoint = checkpointIfDue(now: now)
        var segment: [(UnsignedEntry, EntryID, EntryPayload)] = []
        while let (kind, payload) = rest.first, segment.isEmpty || !CheckpointPayload.isDue(at: (head?.seq ?? 0) + 1) {
            rest.removeFirst()
            let (u, id) = chain(kind: kind, payload: payload, now: now)
            segment.append((u, id, payload))
        }
        return (checkpoint, segment)
    }

    /// A checkpoint over the entries since the last one, if there are at least
    /// `closingAtLeast`: it closes a run (a bulk batch), so that a replica checks the whole run
    /// with one signature instead of the last entries one by one until the next checkpoint
    /// position. None just before a checkpoint position: that position would then have nothing
    /// to cover, and the run after it would not end where a catch-up cuts its requests.
    public mutating func closeRun(now: Timestamp) -> [LinkedEntry] {
        let next = (head?.seq ?? 0) + 1
        guard pending.count >= Self.closingAtLeast, pending.count <= CheckpointPayload.maximumCovers, !CheckpointPayload.isDue(at: next + 1) else { return [] }
        return checkpoint(now: now)
    }

    /// The fewest entries `closeRun` puts a checkpoint after: one more entry (and a signature
    /// to make) for a few signatures fewer to check is not worth it.
    public static let closingAtLeast = 10

    /// The checkpoint, if the next seq is a checkpoint position and there is something to cover.
    private mutating func checkpointIfDue(now: Timestamp) -> [LinkedEntry] {
        guard CheckpointPayload.isDue(at: (head?.seq ?? 0) + 1) else { return [] }
        guard !pending.isEmpty, pending.count <= CheckpointPayload.maximumCovers else {
            // Nothing (or too much, from a caller's long history) to cover: the position passes.
            pending.removeAll()
            return []
        }
        return checkpoint(now: now)
    }

    /// A checkpoint over `pending`, chained and signed.
    private mutating func checkpoint(now: Timestamp) -> [LinkedEntry] {
        let payload = EntryPayload.checkpoint(CheckpointPayload(covering: pending))
        let (u, id) = chain(kind: .checkpoint, payload: payload, now: now)
        pending.removeAll()
        let signature = Array(try! key.signature(for: id.bytes))
        return [LinkedEntry(VerifiedEntry(entry: Entry(unsigned: u, id: id, signature: signature), payload: payload))]
    }

    private mutating func chain(kind: EntryKind, payload: EntryPayload, now: Timestamp) -> (UnsignedEntry, EntryID) {
        clock = clock.tick(now: now)
        let u = UnsignedEntry(
            feed: feed, seq: (head?.seq ?? 0) + 1, prev: head?.id ?? .zero, hlc: clock, kind: kind,
            payload: payload.canonicalBytes)
        let id = u.id
        head = FeedHead(feed: feed, seq: u.seq, id: id)
        return (u, id)
    }

    private mutating func seal(_ segment: [(UnsignedEntry, EntryID, EntryPayload)], signatures: [[UInt8]]) -> [LinkedEntry] {
        pending += signatures
        return segment.indices.map { i in
            LinkedEntry(VerifiedEntry(entry: Entry(unsigned: segment[i].0, id: segment[i].1, signature: signatures[i]), payload: segment[i].2))
        }
    }
}
