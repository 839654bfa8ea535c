import VellumCore

/// A replica in memory: what a node would read from SQLite and where it would store, for
/// the unit tests of `SyncSession` and for `GossipSimulation`. It links entries (each must
/// follow the feed's head) but checks no signatures: what it stands in for is the store,
/// not `EntryVerifier`.
public struct MemoryReplica: SyncReplica, Sendable {
    public private(set) var feeds: [FeedKey: [Entry]] = [:]  // seq order, from seq 1
    public private(set) var held: [(Entry, Entry)] = []
    public private(set) var quarantined: Set<FeedKey> = []
    /// Entries held, over every feed.
    public private(set) var count = 0

    public init(_ entries: [Entry] = []) { add(entries) }

    /// Stores the entries that extend their feed's chain; returns how many were new.
    @discardableResult
    public mutating func add(_ entries: [Entry]) -> Int {
        let before = count
        for e in entries where !quarantined.contains(e.feed) && (feeds[e.feed]?.count ?? 0) == Int(e.seq) - 1 {
            guard e.seq == 1 || feeds[e.feed]?.last?.id == e.prev else { continue }
            feeds[e.feed, default: []].append(e)
            count += 1
        }
        return count - before
    }

    /// Keeps a proven fork and quarantines its feed.
    public mutating func addFork(_ a: Entry, _ b: Entry) {
        held.append((a, b))
        quarantined.insert(a.feed)
    }

    public func heads() -> [FeedKey: FeedHead] {
        feeds.compactMapValues { $0.last.map { FeedHead(feed: $0.feed, seq: $0.seq, id: $0.id) } }
    }

    public func head(of feed: FeedKey) -> FeedHead? {
        feeds[feed]?.last.map { FeedHead(feed: $0.feed, seq: $0.seq, id: $0.id) }
    }

    public func entry(feed: FeedKey, seq: UInt64) -> Entry? {
        guard let chain = feeds[feed], seq >= 1, seq <= UInt64(chain.count) else { return nil }
        return chain[Int(seq) - 1]
    }

    public func quarantinedFeeds() -> Set<FeedKey> { quarantined }
    public func forks() -> [(Entry, Entry)] { held }

    /// At most one message's worth, as the node's store answers.
    public func entries(for ranges: [WantRange]) -> [Entry] {
        var out: [Entry] = []
        for r in ranges {
            guard let chain = feeds[r.feed], r.fromSeq >= 1, r.fromSeq <= UInt64(chain.count) else { continue }
            let room = SyncMessage.maxEntriesPerMessage - out.count
            let start = Int(r.fromSeq) - 1
            out += chain[start..<min(chain.count, start + min(Int(r.limit), room))]
        }
        return out
    }

    /// Carries out what a node's shell would for a session: stores, records forks. Returns
    /// how many entries a `.store` added (nil without one).
    public mutating func apply(_ directives: [SyncSession.Directive]) -> Int? {
        var added: Int?
        for d in directives {
            switch d {
            case .store(let entries): added = add(entries)
            case .recordFork(let a, let b): addFork(a, b)
            default: break
            }
        }
        return added
    }

    /// What this replica answers to a peer's request: the serving side of the protocol
    /// (`Replicator.answer`, without its verification, metrics and bans).
    public mutating func answer(_ message: SyncMessage) -> SyncMessage {
        let sorted = { (heads: [FeedKey: FeedHead]) in heads.values.sorted { $0.feed < $1.feed } }
        switch message {
        case .heads: return .heads(sorted(heads()))
        case .summary(let theirs): return Reconciliation.answer(theirs, heads: sorted(heads())).reply
        case .want(let ranges): return .entries(entries(for: ranges))
        case .offer(let ranges): return .want(Reconciliation.wanted(ranges, held: heads().mapValues(\.seq), skipping: quarantined))
        case .entries(let entries):
            if let (clean, forks) = try? Reconciliation.screen(entries, against: self) {
                for (a, b) in forks { addFork(a, b) }
                add(clean)
            }
            let pushed = Set(entries.map(\.feed))
            return .heads(sorted(heads()).filter { pushed.contains($0.feed) })
        case .fork(let a, let b):
            if !quarantined.contains(a.feed), (try? Reconciliation.verifyFork(a, b)) != nil { addFork(a, b) }
            return .heads(sorted(heads()).filter { $0.feed == a.feed })
        case .error, .headsIn:
            return .error(code: 422, message: "\(message.name) is not a request")
        }
    }
}
