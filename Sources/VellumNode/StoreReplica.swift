import VellumCore
import VellumStore

/// The store as a `SyncSession` and the server side of the protocol read it.
struct StoreReplica: SyncReplica {
    let store: LedgerStore

    func heads() throws(VellumError) -> [FeedKey: FeedHead] { try store.heads() }

    func head(of feed: FeedKey) throws(VellumError) -> FeedHead? { try store.head(of: feed) }

    func entry(feed: FeedKey, seq: UInt64) throws(VellumError) -> Entry? { try store.entry(feed: feed, seq: seq) }

    func quarantinedFeeds() throws(VellumError) -> Set<FeedKey> { try store.quarantinedFeeds() }

    func forks() throws(VellumError) -> [(Entry, Entry)] { try store.forks(limit: SyncSession.maxEvidencePerRound).map { ($0.0, $0.1) } }

    /// At most one message's worth: `maxEntriesPerMessage` entries, and about half the byte limit.
    func entries(for ranges: [WantRange]) throws(VellumError) -> [Entry] {
        var out: [Entry] = []
        var bytes = 0
        for r in ranges {
            let room = SyncMessage.maxEntriesPerMessage - out.count
            guard room > 0 else { break }
            for e in try store.entries(feed: r.feed, fromSeq: r.fromSeq, limit: min(Int(r.limit), room)) {
                bytes += e.payload.count + 200
                if bytes > SyncMessage.maxBytesPerMessage / 2 { return out }
                out.append(e)
            }
        }
        return out
    }
}
