import VellumCore

/// What the federation registry and the federated merge read from the log.
extension LedgerStore {
    /// Every federation document in the log, with where it was published.
    public func documents() throws(VellumError) -> [PublishedDocument] {
        try query("SELECT id, feed, seq, payload FROM entries WHERE kind = 6 ORDER BY rowid") { row -> PublishedDocument? in
            guard case .document(let d) = try? EntryPayload(stored: .document, bytes: row.blob(3)) else { return nil }
            return PublishedDocument(document: d, feed: FeedKey(row.blob(1))!, seq: UInt64(row.int(2)), entry: EntryID(row.blob(0))!)
        }.compactMap { $0 }
    }

    /// How many documents the log holds: the registry is rebuilt when it changes.
    public func documentCount() throws(VellumError) -> Int {
        try query("SELECT count(*) FROM entries WHERE kind = 6") { Int($0.int(0)) }.first ?? 0
    }

    /// The issue facts of one credential (its issuing feed's), and the status facts of every
    /// feed naming its id: the input of `FederatedMerge`.
    public func federatedFacts(of key: CredentialKey) throws(VellumError) -> (issues: [IssueFact], changes: [StatusFact]) {
        let rows = try query("SELECT id, feed, seq, hlc, kind, payload FROM entries WHERE credential = ? AND kind BETWEEN 1 AND 4", [.text(key.id)]) {
            row in
            (EntryID(row.blob(0))!, FeedKey(row.blob(1))!, UInt64(row.int(2)), HLC(rawValue: UInt64(bitPattern: row.int(3))),
             EntryKind(rawValue: UInt8(row.int(4)))!, row.blob(5))
        }
        var issues: [IssueFact] = []
        var changes: [StatusFact] = []
        for (id, feed, seq, hlc, kind, payload) in rows {
            if kind == .issue {
                guard feed == key.feed, case .issue(let p) = try? EntryPayload(stored: .issue, bytes: payload) else { continue }
                issues.append(IssueFact(entry: id, feed: feed, seq: seq, hlc: hlc, issuer: p.issuer, validUntil: p.validUntil.flatMap { Timestamp(parsing: $0) }))
            } else {
                changes.append(StatusFact(entry: id, feed: feed, seq: seq, hlc: hlc, kind: kind))
            }
        }
        return (issues, changes)
    }

    /// A feed's credentials whose status another feed changed (a sibling campus, in a
    /// federation), with their status-list indexes: what its lists must recompute.
    public func credentialsChangedByOthers(feed: FeedKey) throws(VellumError) -> [(key: CredentialKey, statusListIndex: Int)] {
        try query(
            """
            SELECT DISTINCT c.credential, i.payload FROM credentials c JOIN entries i ON i.id = c.issue_entry
            WHERE c.feed = ? AND EXISTS (SELECT 1 FROM entries s WHERE s.credential = c.credential AND s.feed != c.feed AND s.kind BETWEEN 2 AND 4)
            """, [.blob(feed.bytes)]
        ) { row -> (CredentialKey, Int)? in
            guard case .issue(let p) = try? EntryPayload(stored: .issue, bytes: row.blob(1)) else { return nil }
            return (CredentialKey(feed: feed, id: row.text(0)), p.statusListIndex)
        }.compactMap { $0 }
    }
}
