import VellumCore

/// What the federation registry and the federated merge read from the log.
extension LedgerStore {
    /// Every federation document in the log, with where it was published.
    public func documents() throws(VellumError) -> [PublishedDocument] {
        try query("SELECT e.id, f.key, e.seq, e.payload FROM \(Self.entriesWithKeys) WHERE e.kind = 6 ORDER BY e.rowid") { row -> PublishedDocument? in
            guard case .document(let d) = try? EntryPayload(stored: .document, bytes: row.blob(3)) else { return nil }
            return PublishedDocument(document: d, feed: FeedKey(row.blob(1))!, seq: UInt64(row.int(2)), entry: EntryID(row.blob(0))!)
        }.compactMap { $0 }
    }

    /// The federation documents (kind 6 entries) with these ids, in the order of `ids`; ids not
    /// held, or of other kinds, are left out (`entries_documents` indexes their ids).
    public func documentEntries(_ ids: [EntryID]) throws(VellumError) -> [Entry] {
        var out: [Entry] = []
        for id in ids {
            out += try query("SELECT \(Self.entryColumns) FROM \(Self.entriesWithKeys) WHERE e.id = ? AND e.kind = 6", [.blob(id.bytes)], Self.readEntry)
        }
        return out
    }

    /// How many documents the log holds: the registry is rebuilt when it changes.
    public func documentCount() throws(VellumError) -> Int {
        try query("SELECT count(*) FROM entries WHERE kind = 6") { Int($0.int(0)) }.first ?? 0
    }

    /// The issue facts of one credential (its issuing feed's), and the status facts of every
    /// feed naming its id: the input of `FederatedMerge`; and the issue entry the credential's
    /// materialized row holds, read whole by the same query (the answer's first evidence).
    ///
    /// An issue entry's facts come from its materialized credential row when it is the one the
    /// row holds (its issuer is the feed's own did:key, which verification made sure of): every
    /// status answer in a federation reads them, and parsing the payload was most of its cost.
    public func federatedFacts(of key: CredentialKey) throws(VellumError) -> (issues: [IssueFact], changes: [StatusFact], issueEntry: Entry?) {
        var issues: [IssueFact] = []
        var changes: [StatusFact] = []
        var issueEntry: Entry?
        _ = try query(
            """
            SELECT c.issue_entry IS NOT NULL, c.valid_until, \(Self.entryColumns)
            FROM \(Self.entriesWithKeys)
            LEFT JOIN credentials c ON e.kind = 1 AND c.credential = e.credential AND c.feed = e.feed AND c.issue_entry = e.rowid
            WHERE e.credential = ? AND e.kind BETWEEN 1 AND 4
            """, [.text(key.id)]
        ) { row in
            // The columns of `entryColumns`, from 2: feed key, seq, prev, hlc, kind, payload, id, signature.
            let (id, feed, seq) = (EntryID(row.blob(8))!, FeedKey(row.blob(2))!, UInt64(row.int(3)))
            let hlc = HLC(rawValue: UInt64(bitPattern: row.int(5)))
            let kind = EntryKind(rawValue: UInt8(row.int(6)))!
            guard kind == .issue else { return changes.append(StatusFact(entry: id, feed: feed, seq: seq, hlc: hlc, kind: kind)) }
            guard feed == key.feed else { return }
            if row.int(0) == 1 {
                issueEntry = Self.readEntry(row, from: 2)
                let until = row.isNull(1) ? nil : Timestamp(millisecondsSinceEpoch: row.int(1))
                issues.append(IssueFact(entry: id, feed: feed, seq: seq, hlc: hlc, issuer: feed.did, validUntil: until))
            } else if case .issue(let p) = try? EntryPayload(stored: .issue, bytes: row.blob(7)) {
                issues.append(IssueFact(entry: id, feed: feed, seq: seq, hlc: hlc, issuer: p.issuer, validUntil: p.validUntil.flatMap { Timestamp(parsing: $0) }))
            }
        }
        return (issues, changes, issueEntry)
    }

    /// A feed's credentials whose status another feed changed (a sibling campus, in a
    /// federation), with their status-list indexes: what its lists must recompute.
    public func credentialsChangedByOthers(feed: FeedKey) throws(VellumError) -> [(key: CredentialKey, statusListIndex: Int)] {
        try query(
            """
            SELECT DISTINCT c.credential, i.payload FROM credentials c JOIN entries i ON i.rowid = c.issue_entry
            WHERE c.feed = \(Self.feedNumber) AND EXISTS (SELECT 1 FROM entries s WHERE s.credential = c.credential AND s.feed != c.feed AND s.kind BETWEEN 2 AND 4)
            """, [.blob(feed.bytes)]
        ) { row -> (CredentialKey, Int)? in
            guard case .issue(let p) = try? EntryPayload(stored: .issue, bytes: row.blob(1)) else { return nil }
            return (CredentialKey(feed: feed, id: row.text(0)), p.statusListIndex)
        }.compactMap { $0 }
    }
}
