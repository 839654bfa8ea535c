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

    /// What the federated merge reads about a credential id, in one query: every feed that
    /// issued it (its materialized row) with how current that feed is here, and every issue
    /// and status fact naming the id, of any feed (`CredentialFacts`). Anyone may write an id
    /// under new keys, so at most two issue entries are kept whole: the first issuing feed's and
    /// the `preferred` feed's (the one a query named, else this node's own), the only ones an
    /// answer can be about (`LedgerQueries.chooseIssuer`).
    ///
    /// An issue entry's facts come from its materialized credential row when it is the one the
    /// row holds (its issuer is the feed's own did:key, which verification made sure of): every
    /// status answer in a federation reads them, and parsing the payload was most of its cost.
    public func federatedFacts(of credential: String, preferring preferred: FeedKey) throws(VellumError) -> CredentialFacts {
        var facts = CredentialFacts()
        _ = try query(Self.factsOfID, [.text(credential)]) { row in
            // Columns: 0-1 the credential row, 2-9 `entryColumns` (feed key, seq, prev, hlc, kind,
            // payload, id, signature), 10-13 `heldColumns` where the row is a credential's.
            let (id, feed, seq) = (EntryID(row.blob(8))!, FeedKey(row.blob(2))!, UInt64(row.int(3)))
            let hlc = HLC(rawValue: UInt64(bitPattern: row.int(5)))
            let kind = EntryKind(rawValue: UInt8(row.int(6)))!
            guard kind == .issue else { return facts.changes.append(StatusFact(entry: id, feed: feed, seq: seq, hlc: hlc, kind: kind)) }
            guard row.int(0) == 1 else { return facts.unparsed.append((feed, seq, id, hlc, row.blob(7))) }
            // A feed whose head entry is missing is not counted as an issuer (as in
            // `LedgerStore.issuersHeld(of:)`).
            let counted = !row.isNull(12)
            let whole = feed == preferred || (counted && facts.heldIssuers.isEmpty)
            if counted { facts.heldIssuers.append(Self.readHeld(row, feed: feed, from: 10)) }
            let until = row.isNull(1) ? nil : Timestamp(millisecondsSinceEpoch: row.int(1))
            facts.materialized.append(
                (IssueFact(entry: id, feed: feed, seq: seq, hlc: hlc, issuer: feed.did, validUntil: until), whole ? Self.readEntry(row, from: 2) : nil))
        }
        return facts
    }

    /// `federatedFacts`' query: the id's entries `e` of kinds 1-4 (issue, revoke, suspend,
    /// reinstate), each with its credential row `c` if it is that row's issue entry, and then
    /// its feed's head `h` and when it was last heard current.
    private static let factsOfID = """
        SELECT c.issue_entry IS NOT NULL, c.valid_until, \(entryColumns), \(heldColumns)
        FROM \(entriesWithKeys)
        LEFT JOIN credentials c ON e.kind = 1 AND c.credential = e.credential AND c.feed = e.feed AND c.issue_entry = e.rowid
        LEFT JOIN entries h ON c.feed IS NOT NULL AND h.feed = f.n AND h.seq = f.seq
        LEFT JOIN heard ON c.feed IS NOT NULL AND heard.feed = f.key
        WHERE e.credential = ? AND e.kind BETWEEN 1 AND 4
        """

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

/// `LedgerStore.federatedFacts`: what the federated merge reads about a credential id.
public struct CredentialFacts: Sendable {
    /// The feeds that issued the id, by their materialized rows, each with how current it is.
    public fileprivate(set) var heldIssuers: [HeldFeed] = []
    /// The status facts of every feed naming the id.
    public fileprivate(set) var changes: [StatusFact] = []
    /// The issue facts the credential rows hold, with their entries where read whole.
    fileprivate var materialized: [(fact: IssueFact, entry: Entry?)] = []
    /// Other issue entries naming the id (a feed's second issue of it, unparsed until asked).
    fileprivate var unparsed: [(feed: FeedKey, seq: UInt64, id: EntryID, hlc: HLC, payload: [UInt8])] = []

    fileprivate init() {}

    /// The issue facts of one feed, and the issue entry its credential row holds if it was read
    /// whole.
    public func issues(of feed: FeedKey) -> (facts: [IssueFact], entry: Entry?) {
        let own = materialized.first { $0.fact.feed == feed }
        let others = unparsed.filter { $0.feed == feed }.compactMap { u -> IssueFact? in
            guard case .issue(let p) = try? EntryPayload(stored: .issue, bytes: u.payload) else { return nil }
            return IssueFact(entry: u.id, feed: feed, seq: u.seq, hlc: u.hlc, issuer: p.issuer, validUntil: p.validUntil.flatMap { Timestamp(parsing: $0) })
        }
        return ((own.map { [$0.fact] } ?? []) + others, own.flatMap { $0.entry })
    }
}
