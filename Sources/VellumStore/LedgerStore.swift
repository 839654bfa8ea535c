import CSQLite
import VellumCore

/// A signed credential as the issuing node keeps it: with the subject and salt, which never
/// leave this node.
public struct LocalCredential: Sendable {
    public let credentialID: String
    public let subject: String
    public let salt: [UInt8]
    public let document: String
    /// The bulk file row it was issued for, if any.
    public let row: BulkRow?

    public init(credentialID: String, subject: String, salt: [UInt8], document: String, row: BulkRow? = nil) {
        self.credentialID = credentialID
        self.subject = subject
        self.salt = salt
        self.document = document
        self.row = row
    }
}

/// A row of a bulk issuance file: the file by the SHA-256 of its bytes, the row by its line.
/// A ledger issues at most one credential per row.
public struct BulkRow: Sendable, Hashable {
    public let file: [UInt8]
    public let line: Int

    public init(file: [UInt8], line: Int) {
        self.file = file
        self.line = line
    }
}

/// How current this ledger's copy of a feed is: its head, the head's timestamp and when this
/// node last confirmed it had everything a peer knew of the feed (ms since the epoch).
public struct HeldFeed: Sendable {
    public let head: FeedHead
    public let hlc: HLC
    public let heard: Int64?
}

/// What a status answer needs about one credential, read in one query: its materialized
/// resolution, the entries that decided it, and how current its feed is here.
public struct StatusRecord: Sendable {
    public let key: CredentialKey
    public let resolution: CredentialResolution
    public let issue: Entry
    /// The status change that won, if any.
    public let decider: Entry?
    public let held: HeldFeed

    /// The signed entries the resolution names: the issue, then the deciding change.
    public var evidence: [Entry] { [issue] + [decider].compactMap { $0 } }
}

/// The ledger in SQLite (WAL): the append-only log, feed heads, the materialized credential
/// state and the local, non-replicated documents. It stores only `VerifiedEntry`s, and updates
/// the materialized state in the same transaction as the append.
public final class LedgerStore {
    public static let fileName = "ledger.sqlite"
    let db: SQLiteConnection
    /// A writer's; readers never checkpoint.
    private(set) var checkpointer: BackgroundCheckpointer?
    private lazy var insertEntry = try! db.prepare(
        "INSERT INTO entries (id, feed, seq, prev, hlc, kind, payload, signature, credential) VALUES (?,?,?,?,?,?,?,?,?)")
    /// A feed's head, numbering the feed the first time (its number never changes), and whether
    /// it holds facts about credentials that have no row (schema 10).
    private lazy var upsertFeed = try! db.prepare(
        "INSERT INTO feeds (key, seq, head) VALUES (?,?,?) ON CONFLICT (key) DO UPDATE SET seq = excluded.seq, head = excluded.head RETURNING n, unissued")
    private lazy var markUnissued = try! db.prepare("UPDATE feeds SET unissued = 1 WHERE n = ?")
    /// A credential's facts stored before rowid `?3`. The range ends in the index (credential,
    /// feed, rowid): where only the batch being appended speaks of the credential, the query
    /// reads no row of the log.
    private lazy var selectFacts = try! db.prepare(
        "SELECT id, hlc, kind, seq, rowid FROM entries WHERE credential = ?1 AND feed = ?2 AND rowid < ?3 AND kind BETWEEN 1 AND 4")
    private lazy var selectPayload = try! db.prepare("SELECT payload FROM entries WHERE rowid = ?")
    private lazy var upsertCredential = try! db.prepare(
        "INSERT OR REPLACE INTO credentials (credential, feed, status, issue_entry, decided_by, valid_until) VALUES (?, ?, ?, ?, ?, ?)")
    /// A credential's first row: changes nothing where it has one.
    private lazy var insertNewCredential = try! db.prepare(
        "INSERT INTO credentials (credential, feed, status, issue_entry, decided_by, valid_until) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
    private lazy var insertLocal = try! db.prepare(
        "INSERT INTO local_credentials (entry, subject, salt, document) VALUES (?,?,?,?)")
    private lazy var insertBulkRow = try! db.prepare("INSERT INTO bulk_rows (file, line, entry) VALUES (?,?,?)")

    /// Opens (and migrates) the ledger at `path`. Unless `create`, the file must already be a
    /// Vellum ledger: a foreign SQLite database is refused, not converted. A `readOnly` store
    /// (the HTTP service's readers) can never write and expects a migrated ledger.
    public convenience init(path: String, create: Bool, readOnly: Bool = false) throws(VellumError) {
        try self.init(path: path, create: create, readOnly: readOnly, checkpointPages: 32768)
    }

    /// `checkpointPages`: the write-ahead log's size, in pages (8 KiB in a new ledger), past
    /// which it is copied into the database file by a thread of its own (`BackgroundCheckpointer`).
    init(path: String, create: Bool, readOnly: Bool, checkpointPages: Int32) throws(VellumError) {
        do {
            db = try SQLiteConnection(path: path, readOnly: readOnly)
            try db.execute("PRAGMA cache_size = -65536")
            if readOnly {
                // Readers answer random status queries through a memory map (up to 16 GiB): about
                // 1.5x faster than through SQLite's page cache on a large ledger. Writers do not
                // map: a catch-up touches the whole file, and every mapped page it touched would
                // count in its resident memory (Docs/PERFORMANCE.md).
                try db.execute("PRAGMA mmap_size = 17179869184")
                guard try Schema.version(db) == Schema.migrations.count else {
                    throw VellumError(.storage, "\(path) is not a Vellum ledger of this version")
                }
                // Between a migration that drops the derived state and its rebuild, a reader
                // would answer "unknown" for every credential: refuse instead.
                guard try meta("rematerialize") == nil else {
                    throw VellumError(.storage, "\(path) is rebuilding its state after an upgrade; open it read-write once (vellum node) first")
                }
                return
            }
            // 8 KiB pages for a new ledger (an existing file keeps its own): entries of ~700
            // bytes fill them to ~98%, where 4 KiB pages held five and wasted a tenth
            // (Docs/PERFORMANCE.md, disk per entry). Only takes effect before the first write.
            try db.execute("PRAGMA page_size = 8192")
            // A log that grew past 256 MiB (a catch-up outrunning its checkpoints) is cut back
            // to that size when it starts over, not kept at its largest.
            try db.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 268435456")
            if !create, try Schema.version(db) == 0 {
                throw VellumError(.storage, "\(path) is not a Vellum ledger")
            }
            // Before the migrations: those that copy the log write as much as a catch-up.
            checkpointer = BackgroundCheckpointer(installingOn: db, pages: checkpointPages)
            try Schema.migrate(db)
            if try meta("rematerialize") != nil { try rematerialize() }
        } catch let error as SQLiteError {
            throw VellumError(.storage, "\(path): \(error.message)")
        } catch let error as VellumError {
            throw error
        } catch {
            throw VellumError(.storage, "\(path): \(error)")
        }
    }

    deinit { checkpointer?.uninstall(from: db) }

    /// Runs `body` in one write transaction: everything it appends lands together or not at all.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        do { return try db.transaction(body) } catch let error as SQLiteError {
            throw VellumError(.storage, error.message)
        }
    }

    /// Runs `body`'s queries against one snapshot of the ledger (`SQLiteConnection.read`): an
    /// answer built from several reads cannot mix two states, and takes the read lock once.
    /// Keep `body` to reads and short: a snapshot held open keeps the writer from recycling
    /// the write-ahead log.
    public func read<T>(_ body: () throws -> T) throws(VellumError) -> T {
        do { return try db.read(body) } catch let error as VellumError {
            throw error
        } catch let error as SQLiteError {
            throw VellumError(.storage, error.message)
        } catch {
            throw VellumError(.storage, "\(error)")
        }
    }

    /// Whether a write transaction is open on this store's connection: what it reads may yet be
    /// rolled back, so nothing read from it should be kept for later.
    public var writing: Bool { db.writing }

    /// Whether a transaction, read or write, is open on this store's connection: a `read`
    /// would join it rather than take a snapshot of its own.
    public var inTransaction: Bool { db.inTransaction }

    /// How long a statement waits for another connection's lock before failing with "busy"
    /// (10 s unless set).
    public func waitWhenBusy(milliseconds: Int32) { db.waitWhenBusy(milliseconds: milliseconds) }

    /// SQLite's data version as this connection sees it (`PRAGMA data_version`): it changes
    /// whenever another connection, of this process or any other, has committed to the file
    /// since this one last read it. Outside a transaction, the pragma starts and ends a read
    /// transaction of its own, so two equal answers mean that no commit came between them.
    public func dataVersion() throws(VellumError) -> Int64 {
        try query("PRAGMA data_version") { $0.int(0) }.first ?? 0
    }

    /// Copies the write-ahead log into the database file and empties it.
    public func checkpoint() throws(VellumError) {
        do { try db.execute("PRAGMA wal_checkpoint(TRUNCATE)") } catch { throw VellumError(.storage, error.message) }
    }

    // MARK: meta

    public func meta(_ key: String) throws(VellumError) -> String? {
        try query("SELECT value FROM meta WHERE key = ?", [.text(key)]) { $0.text(0) }.first
    }

    public func setMeta(_ key: String, _ value: String) throws(VellumError) {
        try run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [.text(key), .text(value)])
    }

    // MARK: append

    /// Appends linked entries, local documents, feed heads and the materialized state.
    /// Call inside `transaction`.
    public func append(_ entries: [LinkedEntry], local: [LocalCredential] = []) throws(VellumError) {
        do {
            var heads: [FeedKey: FeedHead] = [:]
            for v in entries where heads[v.feed].map({ $0.seq < v.seq }) ?? true {
                heads[v.feed] = FeedHead(feed: v.feed, seq: v.seq, id: v.id)
            }
            // The heads first: they number new feeds, and the log rows refer to feeds by number.
            var numbers: [FeedKey: Int64] = [:]
            var unissued: Set<Int64> = []  // feeds holding facts about credentials with no row
            for head in heads.values {
                upsertFeed.bind([.blob(head.feed.bytes), .integer(Int64(head.seq)), .blob(head.id.bytes)])
                defer { upsertFeed.reset() }
                guard try upsertFeed.step() else { throw VellumError(.storage, "append failed: no number for feed \(head.feed.hex)") }
                numbers[head.feed] = upsertFeed.int(0)
                if upsertFeed.int(1) != 0 { unissued.insert(upsertFeed.int(0)) }
            }
            var touched: [CredentialKey: Facts] = [:]  // what this batch says of each credential
            touched.reserveCapacity(entries.count)
            let documents = Dictionary(local.map { ($0.credentialID, $0) }, uniquingKeysWith: { first, _ in first })
            var firstRowID: Int64?
            for v in entries {
                let e = v.entry
                try insertEntry.run([
                    .blob(e.id.bytes), .integer(numbers[e.feed]!), .integer(Int64(e.seq)), .blob(e.prev.bytes),
                    .integer(Int64(bitPattern: e.hlc.rawValue)), .integer(Int64(e.kind.rawValue)), .blob(e.payload),
                    .blob(e.signature), .text(v.credentialID),
                ])
                let rowid = db.lastInsertRowID
                if firstRowID == nil { firstRowID = rowid }
                if case .issue = v.payload, let l = documents[v.credentialID] {
                    try insertLocal.run([.integer(rowid), .text(l.subject), .blob(l.salt), .text(l.document)])
                    if let row = l.row { try insertBulkRow(row, entry: rowid) }
                }
                if let key = v.credentialKey {
                    touched[key, default: Facts(feed: numbers[e.feed]!)].add(v.verified, rowid: rowid)
                }
            }
            for (key, var facts) in touched {
                // Where the feed holds no facts about credentials without a row, a credential
                // this batch issues has no facts stored before it if it has no row yet: its first
                // row is written from the batch alone, without reading the log.
                if !unissued.contains(facts.feed), try insertFirstRow(key, facts) { continue }
                try addStoredFacts(of: key, before: firstRowID!, to: &facts)
                try materialize(key, facts, unissued: &unissued)
            }
        } catch let error as VellumError {
            throw error
        } catch {
            throw VellumError(.storage, "append failed: \(error)")
        }
    }

    /// Records which entry issued a bulk file's row. The row's key refuses a second credential
    /// for it: another process issuing the same file got there first (a conflict, not a fault).
    private func insertBulkRow(_ row: BulkRow, entry: Int64) throws(VellumError) {
        do { try insertBulkRow.run([.blob(row.file), .integer(Int64(row.line)), .integer(entry)]) } catch {
            guard error.code == .constraint else { throw VellumError(.storage, "append failed: \(error.message)") }
            throw VellumError(.conflict, "another run of this file is issuing its rows right now; wait for it to end, then run the file again to write every row's output")
        }
    }

    /// Rebuilds the materialized state from the log (after a migration that changed its form:
    /// keyed by issuing feed and id in 4, feeds by number in 8), in one transaction.
    private func rematerialize() throws {
        try transaction {
            let keys = try query("SELECT DISTINCT e.credential, f.key, f.n FROM \(Self.entriesWithKeys) WHERE e.kind BETWEEN 1 AND 4") {
                (CredentialKey(feed: FeedKey($0.blob(1))!, id: $0.text(0)), $0.int(2))
            }
            try run("UPDATE feeds SET unissued = 0", [])
            var unissued: Set<Int64> = []
            for (key, feed) in keys { try materialize(key, storedFacts(of: key, feed: feed), unissued: &unissued) }
            try run("DELETE FROM meta WHERE key = 'rematerialize'", [])
        }
    }

    /// Writes one credential's merged state (the pure merge in Core) from all its facts. Where
    /// the merge finds no issue among them, the feed is marked as holding facts about a
    /// credential without a row (`unissued`; only a rebuild of the state clears the marks, and
    /// works them out again).
    private func materialize(_ key: CredentialKey, _ facts: Facts, unissued: inout Set<Int64>) throws(SQLiteError) {
        let r = CredentialMerge.resolve(key, issues: facts.issues, changes: facts.changes)
        guard let issue = r.issue else {
            if unissued.insert(facts.feed).inserted { try markUnissued.run([.integer(facts.feed)]) }
            return
        }
        try upsertCredential.run(row(key, facts, r, issue))
    }

    /// Writes a credential's state from `facts` alone if the merge finds an issue among them
    /// and the credential has no row yet; false if it changed nothing.
    private func insertFirstRow(_ key: CredentialKey, _ facts: Facts) throws(SQLiteError) -> Bool {
        let r = CredentialMerge.resolve(key, issues: facts.issues, changes: facts.changes)
        guard let issue = r.issue else { return false }
        try insertNewCredential.run(row(key, facts, r, issue))
        return db.changes == 1
    }

    /// A credential row: the merge picks its issue and deciding entry among the facts.
    private func row(_ key: CredentialKey, _ facts: Facts, _ r: CredentialResolution, _ issue: IssueFact) -> [Statement.Value] {
        [
            .text(key.id), .integer(facts.feed), .text(r.base.rawValue), .integer(facts.rowid(of: issue.entry)),
            r.decidedBy.map { .integer(facts.rowid(of: $0)) } ?? .null, issue.validUntil.map { .integer($0.millisecondsSinceEpoch) } ?? .null,
        ]
    }

    /// The entries of a credential's issuing feed about it, reduced to what the merge needs,
    /// with their rowids. `feed`: the number of the key's feed in this ledger.
    struct Facts {
        let feed: Int64
        var issues: [IssueFact] = []
        var changes: [StatusFact] = []
        /// A list, not a dictionary: most credentials have one fact, and a dictionary per
        /// credential cost a catch-up a few percent of its storing thread.
        var rowids: [(id: EntryID, rowid: Int64)] = []

        mutating func add(_ v: VerifiedEntry, rowid: Int64) {
            switch v.payload {
            case .issue: issues.append(IssueFact(v))
            case .status: changes.append(StatusFact(v))
            case .statusList, .document, .checkpoint: return  // no credential key: never passed
            }
            rowids.append((v.id, rowid))
        }

        func rowid(of id: EntryID) -> Int64 { rowids.first { $0.id == id }!.rowid }
    }

    /// Every fact the log holds about one credential. `feed`: the number of the key's feed.
    private func storedFacts(of key: CredentialKey, feed: Int64) throws(SQLiteError) -> Facts {
        var facts = Facts(feed: feed)
        try addStoredFacts(of: key, before: .max, to: &facts)
        return facts
    }

    /// Adds the facts about one credential stored before rowid `end` (stored entries were
    /// verified, so their payloads decode).
    private func addStoredFacts(of key: CredentialKey, before end: Int64, to facts: inout Facts) throws(SQLiteError) {
        selectFacts.bind([.text(key.id), .integer(facts.feed), .integer(end)])
        while try selectFacts.step() {
            let id = EntryID(selectFacts.blob(0))!
            let hlc = HLC(rawValue: UInt64(bitPattern: selectFacts.int(1)))
            let kind = EntryKind(rawValue: UInt8(selectFacts.int(2)))!
            let seq = UInt64(selectFacts.int(3))
            let rowid = selectFacts.int(4)
            facts.rowids.append((id, rowid))
            guard kind == .issue else {
                facts.changes.append(StatusFact(entry: id, feed: key.feed, seq: seq, hlc: hlc, kind: kind))
                continue
            }
            selectPayload.bind([.integer(rowid)])
            defer { selectPayload.reset() }
            guard try selectPayload.step(), case .issue(let p) = try? EntryPayload(stored: .issue, bytes: selectPayload.blob(0)) else { continue }
            facts.issues.append(IssueFact(entry: id, feed: key.feed, seq: seq, hlc: hlc, payload: p))
        }
    }

    /// A credential's merged state as of `time`, from the log's own (HLC) timestamps: only
    /// entries stamped at or before `time` count; and its evidence, the entries it names.
    public func resolution(of key: CredentialKey, asOf time: Timestamp) throws(VellumError) -> (resolution: CredentialResolution, evidence: [Entry]) {
        guard let feed = try query("SELECT n FROM feeds WHERE key = ?", [.blob(key.feed.bytes)], { $0.int(0) }).first else {
            return (CredentialMerge.resolve(key, issues: [], changes: []), [])  // nothing of this feed is held
        }
        let resolution: CredentialResolution, facts: Facts
        do {
            facts = try storedFacts(of: key, feed: feed)
            let cutoff = HLC(milliseconds: UInt64(max(0, time.millisecondsSinceEpoch)), counter: .max)
            resolution = CredentialMerge.resolve(key, issues: facts.issues.filter { $0.hlc <= cutoff }, changes: facts.changes.filter { $0.hlc <= cutoff })
        } catch {
            throw VellumError(.storage, error.message)
        }
        var evidence: [Entry] = []
        for id in resolution.evidence {
            evidence += try query("SELECT \(Self.entryColumns) FROM \(Self.entriesWithKeys) WHERE e.rowid = ?", [.integer(facts.rowid(of: id))], Self.readEntry)
        }
        return (resolution, evidence)
    }

    // MARK: reads

    public func heads() throws(VellumError) -> [FeedKey: FeedHead] {
        let rows = try query("SELECT key, seq, head FROM feeds") {
            FeedHead(feed: FeedKey($0.blob(0))!, seq: UInt64($0.int(1)), id: EntryID($0.blob(2))!)
        }
        return Dictionary(uniqueKeysWithValues: rows.map { ($0.feed, $0) })
    }

    public func head(of feed: FeedKey) throws(VellumError) -> FeedHead? {
        try query("SELECT seq, head FROM feeds WHERE key = ?", [.blob(feed.bytes)]) {
            FeedHead(feed: feed, seq: UInt64($0.int(0)), id: EntryID($0.blob(1))!)
        }.first
    }

    public func entryID(feed: FeedKey, seq: UInt64) throws(VellumError) -> EntryID? {
        try query("SELECT id FROM entries WHERE feed = \(Self.feedNumber) AND seq = ?", [.blob(feed.bytes), .integer(Int64(seq))]) {
            EntryID($0.blob(0))!
        }.first
    }

    /// The entry at a feed's position, if held.
    public func entry(feed: FeedKey, seq: UInt64) throws(VellumError) -> Entry? {
        try query(
            "SELECT \(Self.entryColumns) FROM \(Self.entriesWithKeys) WHERE f.key = ? AND e.seq = ?", [.blob(feed.bytes), .integer(Int64(seq))],
            Self.readEntry
        ).first
    }

    /// The feeds that issued a credential id, in key order: one, unless another feed wrote the
    /// same id (each is then a separate credential). The rows `issuersHeld` and
    /// `statusRecords` read, so that every query counts the same issuers.
    public func issuingFeeds(of credential: String) throws(VellumError) -> [FeedKey] {
        try issuersHeld(of: credential).map(\.head.feed).sorted()
    }

    /// The ledger's record of a credential: its issue payload and materialized resolution;
    /// and its evidence, the entries the resolution names.
    public func record(of key: CredentialKey) throws(VellumError) -> (record: LedgerRecord, evidence: [Entry])? {
        guard let r = try statusRecord(of: key), case .issue(let payload) = try? EntryPayload(stored: .issue, bytes: r.issue.payload) else {
            return nil
        }
        return (LedgerRecord(payload: payload, resolution: r.resolution), r.evidence)
    }

    /// What a status answer needs about one credential (`statusRecords`).
    public func statusRecord(of key: CredentialKey) throws(VellumError) -> StatusRecord? {
        try statusRecords(of: key.id, issuer: key.feed).record
    }

    /// What a status answer needs, in one query: the feeds that issued `credential` (only
    /// `issuer`, if given), in the order this ledger first saw them, and the record of one of
    /// them: of `preferred` if it is among them, else of the first. A record is the
    /// credential's materialized resolution, its issue entry, the entry that decided its
    /// status, if any (the evidence), and how current the feed is here. At most two records
    /// are read whole, however many feeds wrote the id, and only a damaged row that would be
    /// the record is an error.
    public func statusRecords(of credential: String, issuer: FeedKey? = nil, preferring preferred: FeedKey? = nil) throws(VellumError)
        -> (issuers: [FeedKey], record: StatusRecord?)
    {
        var record: (feed: FeedKey, read: Result<StatusRecord, VellumError>)?
        let issuers = try query(issuer == nil ? Self.recordsOfID : Self.recordOfIDAndFeed, Self.issuedValues(credential, issuer)) { row in
            let feed = FeedKey(row.blob(6))!  // f.key, the first of the issue entry's columns
            if record == nil || (feed == preferred && record?.feed != preferred) {
                record = (feed, Result { () throws(VellumError) in try Self.readStatusRecord(row, key: CredentialKey(feed: feed, id: credential)) })
            }
            return feed
        }
        return (issuers, try record?.read.get())
    }

    /// A row of `recordsOfID` or `recordOfIDAndFeed`. Throws if the ledger is damaged: a state
    /// the merge never writes, or a credential row whose issue entry is missing (`issuersHeld`
    /// reads the same rows, and the two must agree on the issuers).
    private static func readStatusRecord(_ row: Statement, key: CredentialKey) throws(VellumError) -> StatusRecord {
        guard let status = CredentialStatus(rawValue: row.text(0)), !row.isNull(7) else {  // 7, e.seq: null without the issue entry
            throw VellumError(.storage, "the ledger's state of \(key) is damaged: status '\(row.text(0).prefix(20))', issue entry \(row.isNull(7) ? "missing" : "held")")
        }
        let entry = readEntry(row, from: 6)
        let decider = row.isNull(15) ? nil : readEntry(row, from: 14)  // 15, d.seq: null without a deciding entry
        let issue = IssueFact(
            entry: entry.id, feed: entry.feed, seq: entry.seq, hlc: entry.hlc, issuer: entry.feed.did,
            validUntil: row.isNull(1) ? nil : Timestamp(millisecondsSinceEpoch: row.int(1)))
        return StatusRecord(
            key: key, resolution: CredentialResolution(base: status, issue: issue, decidedBy: decider?.id), issue: entry, decider: decider,
            held: readHeld(row, feed: entry.feed, from: 2))
    }

    /// The feeds that issued `credential` (only `issuer`, if given), each with how current it
    /// is here: what tells whether a status answer given before still holds, in one query.
    public func issuersHeld(of credential: String, issuer: FeedKey? = nil) throws(VellumError) -> [HeldFeed] {
        try query(issuer == nil ? Self.heldOfID : Self.heldOfIDAndFeed, Self.issuedValues(credential, issuer)) { row in
            Self.readHeld(row, feed: FeedKey(row.blob(0))!, from: 1)
        }
    }

    /// A feed's head, its timestamp and when this node last caught up with it, in one query.
    public func freshness(of feed: FeedKey) throws(VellumError) -> HeldFeed? {
        try query(Self.freshnessSQL, [.blob(feed.bytes)]) { Self.readHeld($0, feed: feed, from: 0) }.first
    }

    /// A feed `f` joined to its head entry `h` and to when it was last heard current.
    private static let withHead = "JOIN entries h ON h.feed = f.n AND h.seq = f.seq LEFT JOIN heard ON heard.feed = f.key"
    /// The columns `readHeld` reads.
    static let heldColumns = "f.seq, f.head, h.hlc, heard.at"
    private static let freshnessSQL = "SELECT \(heldColumns) FROM feeds f \(withHead) WHERE f.key = ?"

    /// `HeldFeed` from `heldColumns`, starting at column `first`.
    static func readHeld(_ s: Statement, feed: FeedKey, from first: Int32) -> HeldFeed {
        HeldFeed(
            head: FeedHead(feed: feed, seq: UInt64(s.int(first)), id: EntryID(s.blob(first + 1))!),
            hlc: HLC(rawValue: UInt64(bitPattern: s.int(first + 2))), heard: s.isNull(first + 3) ? nil : s.int(first + 3))
    }

    /// The credential rows of an id, their feeds `f`, each feed's head entry `h` and when it was
    /// last heard current; `recordsOfID` and `heldOfID` read exactly the same rows.
    private static let issuedWithHeads = "credentials c JOIN feeds f ON f.n = c.feed \(withHead)"
    /// Every issuer's row of the id (`?1`), in the order of the feeds' numbers, or only the row
    /// of the feed whose key is `?2`: that feed's number by its key, then the credential by its
    /// whole primary key, however many feeds wrote the id.
    private static let ofID = "WHERE c.credential = ?1"
    private static let ofIDAndFeed = "WHERE c.credential = ?1 AND c.feed = \(feedNumber)"  // its `?` is ?2
    private static func issuedValues(_ credential: String, _ issuer: FeedKey?) -> [Statement.Value] {
        [.text(credential)] + (issuer.map { [.blob($0.bytes)] } ?? [])
    }
    private static let issuersHeldSQL = "SELECT f.key, \(heldColumns) FROM \(issuedWithHeads)"
    private static let heldOfID = "\(issuersHeldSQL) \(ofID)"
    private static let heldOfIDAndFeed = "\(issuersHeldSQL) \(ofIDAndFeed)"
    /// The issue entry `e` is joined LEFT so that a missing one is seen (`readStatusRecord`)
    /// rather than skipped; the deciding entry `d` is of the credential's own feed, so its feed
    /// key is `f.key`.
    private static let recordColumns = """
        SELECT c.status, c.valid_until, \(heldColumns), \(entryColumns), \(entryColumns(entry: "d", feed: "f"))
        FROM \(issuedWithHeads) LEFT JOIN entries e ON e.rowid = c.issue_entry
        LEFT JOIN entries d ON d.rowid = c.decided_by AND d.feed = c.feed AND d.credential = c.credential
        """
    private static let recordsOfID = "\(recordColumns) \(ofID)"
    private static let recordOfIDAndFeed = "\(recordColumns) \(ofIDAndFeed)"

    /// The status-list indexes of a feed's own credentials whose merged status is `status`.
    public func statusListIndexes(feed: FeedKey, status: CredentialStatus) throws(VellumError) -> [Int] {
        try query(
            "SELECT e.payload FROM credentials c JOIN entries e ON e.rowid = c.issue_entry WHERE c.feed = \(Self.feedNumber) AND c.status = ? AND c.status != 'active'",
            [.blob(feed.bytes), .text(status.rawValue)]
        ) { row -> Int? in
            guard case .issue(let p) = try? EntryPayload(stored: .issue, bytes: row.blob(0)) else { return nil }
            return p.statusListIndex
        }.compactMap { $0 }
    }

    /// The newest `status-list` entry for a list name, if its issuer has published one.
    public func latestStatusList(named name: String) throws(VellumError) -> Entry? {
        try query(
            "SELECT \(Self.entryColumns) FROM \(Self.entriesWithKeys) WHERE e.credential = ? AND e.kind = ? ORDER BY e.seq DESC LIMIT 1",
            [.text(name), .integer(Int64(EntryKind.statusList.rawValue))], Self.readEntry
        ).first
    }

    // MARK: freshness

    /// Records that, at `time`, this node held everything a peer (or the issuer) knew of these feeds.
    /// One transaction, however many feeds.
    public func markHeard(_ feeds: [FeedKey], at time: Int64) throws {
        guard !feeds.isEmpty else { return }
        try transaction {
            for feed in feeds { try run("INSERT OR REPLACE INTO heard (feed, at) VALUES (?, ?)", [.blob(feed.bytes), .integer(time)]) }
        }
    }

    /// When this node last caught up with any peer (ms since the epoch), if ever.
    public func lastHeard() throws(VellumError) -> Int64? {
        try query("SELECT max(at) FROM heard") { $0.isNull(0) ? nil : $0.int(0) }.first ?? nil
    }

    /// When this node last caught up with a feed (ms since the epoch), if ever.
    public func heard(_ feed: FeedKey) throws(VellumError) -> Int64? {
        try query("SELECT at FROM heard WHERE feed = ?", [.blob(feed.bytes)]) { $0.int(0) }.first
    }

    /// Visits every entry, in arrival order (`byFeed`: by feed, then seq).
    public func forEachEntry(byFeed: Bool = false, _ body: (Entry) throws -> Void) throws {
        let stmt = try db.prepare("SELECT \(Self.entryColumns) FROM \(Self.entriesWithKeys) ORDER BY \(byFeed ? "f.key, e.seq" : "e.rowid")")
        while try stmt.step() { try body(Self.readEntry(stmt)) }
    }

    /// Visits the materialized state of every credential in `CredentialKey` order (id bytes,
    /// then feed bytes: SQLite compares TEXT and BLOB by bytes). A deciding entry is one of the
    /// issuing feed's entries about the credential, or none.
    public func forEachCredential(_ body: (CredentialKey, CredentialStatus, EntryID, EntryID?) throws -> Void) throws {
        let stmt = try db.prepare(
            """
            SELECT c.credential, f.key, c.status, e.id, d.id FROM credentials c JOIN feeds f ON f.n = c.feed
            JOIN entries e ON e.rowid = c.issue_entry
            LEFT JOIN entries d ON d.rowid = c.decided_by AND d.feed = c.feed AND d.credential = c.credential ORDER BY c.credential, f.key
            """)
        while try stmt.step() {
            try body(
                CredentialKey(feed: FeedKey(stmt.blob(1))!, id: stmt.text(0)), CredentialStatus(rawValue: stmt.text(2)) ?? .unknown,
                EntryID(stmt.blob(3))!, stmt.isNull(4) ? nil : EntryID(stmt.blob(4)))
        }
    }

    public func localDocument(of key: CredentialKey) throws(VellumError) -> String? {
        try query(
            """
            SELECT l.document FROM credentials c JOIN local_credentials l ON l.entry = c.issue_entry
            WHERE c.credential = ? AND c.feed = \(Self.feedNumber)
            """, [.text(key.id), .blob(key.feed.bytes)]
        ) { $0.text(0) }.first
    }

    /// The credentials earlier runs issued for rows of a bulk file (by the file's SHA-256):
    /// line, credential id and the signed document, in line order.
    public func bulkRows(file: [UInt8]) throws(VellumError) -> [(line: Int, id: String, document: String)] {
        try query(
            """
            SELECT b.line, e.credential, l.document FROM bulk_rows b JOIN entries e ON e.rowid = b.entry
            JOIN local_credentials l ON l.entry = b.entry WHERE b.file = ? ORDER BY b.line
            """, [.blob(file)]
        ) { (Int($0.int(0)), $0.text(1), $0.text(2)) }
    }

    /// The rows of a bulk file (by the SHA-256 of its bytes) issued so far: line and credential id.
    public func bulkRowIDs(file: [UInt8]) throws(VellumError) -> [(line: Int, id: String)] {
        try query(
            "SELECT b.line, e.credential FROM bulk_rows b JOIN entries e ON e.rowid = b.entry WHERE b.file = ? ORDER BY b.line", [.blob(file)]
        ) { (Int($0.int(0)), $0.text(1)) }
    }

    /// Bulk files run from `path`: their digests and row counts.
    public func bulkRuns(path: String) throws(VellumError) -> [(file: [UInt8], rows: Int)] {
        try query("SELECT file, rows FROM bulk_runs WHERE path = ?", [.text(path)]) { ($0.blob(0), Int($0.int(1))) }
    }

    public func addBulkRun(file: [UInt8], path: String, rows: Int) throws(VellumError) {
        try run("INSERT OR REPLACE INTO bulk_runs (path, file, rows) VALUES (?, ?, ?)", [.text(path), .blob(file), .integer(Int64(rows))])
    }

    public func bulkRowCount(file: [UInt8]) throws(VellumError) -> Int {
        try query("SELECT count(*) FROM bulk_rows WHERE file = ?", [.blob(file)]) { Int($0.int(0)) }.first ?? 0
    }

    /// Commit with `synchronous = FULL` from now on: what a command prints after a commit then
    /// survives a power loss too, not only a crash of the process.
    public func syncEveryCommit() throws(VellumError) {
        try run("PRAGMA synchronous = FULL", [])
    }

    /// How many entries the log holds, from the feed heads (cheap: no scan of the log).
    public func entryCount() throws(VellumError) -> Int {
        try query("SELECT coalesce(sum(seq), 0) FROM feeds") { Int($0.int(0)) }.first ?? 0
    }

    public func count(_ table: String) throws(VellumError) -> Int {
        try query("SELECT count(*) FROM \(table)") { Int($0.int(0)) }.first ?? 0
    }

    /// The state root over the materialized state (see `StateRootHasher`).
    public func stateRoot() throws -> EntryID {
        var hasher = StateRootHasher()
        for head in try heads().values.sorted(by: { $0.feed < $1.feed }) { hasher.add(head) }
        try forEachCredential { key, status, issue, decidedBy in
            hasher.add(key, status: status, issue: issue, decidedBy: decidedBy)
        }
        return hasher.finalize()
    }

    // MARK: replication

    /// The newest local arrival number: it grows whenever any entry is stored.
    public func lastRowID() throws(VellumError) -> Int64 {
        try query("SELECT coalesce(max(rowid), 0) FROM entries") { $0.int(0) }.first ?? 0
    }

    /// The signatures of a feed's entries up to `head` after the last checkpoint position, or
    /// after a checkpoint that closed a run since (`FeedWriter.closeRun`), in seq order: what
    /// the writer's next checkpoint covers (`FeedWriter.pending`).
    public func signaturesSinceCheckpoint(feed: FeedKey, head: UInt64) throws(VellumError) -> [[UInt8]] {
        try query(
            """
            SELECT signature FROM entries WHERE feed = (SELECT n FROM feeds WHERE key = ?1) AND seq <= ?3
                AND seq > coalesce((SELECT max(seq) FROM entries WHERE feed = (SELECT n FROM feeds WHERE key = ?1)
                    AND seq > ?2 AND seq <= ?3 AND kind = \(EntryKind.checkpoint.rawValue)), ?2)
            ORDER BY seq
            """,
            [.blob(feed.bytes), .integer(Int64(head - head % CheckpointPayload.interval)), .integer(Int64(head))]
        ) { $0.blob(0) }
    }

    /// Entries of one feed from `fromSeq`, in seq order.
    public func entries(feed: FeedKey, fromSeq: UInt64, limit: Int) throws(VellumError) -> [Entry] {
        try query(
            "SELECT \(Self.entryColumns) FROM \(Self.entriesWithKeys) WHERE f.key = ? AND e.seq >= ? ORDER BY e.seq LIMIT ?",
            [.blob(feed.bytes), .integer(Int64(fromSeq)), .integer(Int64(limit))], Self.readEntry)
    }

    public struct Peer: Sendable, Hashable {
        public let key: String
        public let address: String

        public init(key: String, address: String) {
            self.key = key
            self.address = address
        }
    }

    public func peers() throws(VellumError) -> [Peer] {
        try query("SELECT key, address FROM peers ORDER BY added, key") { Peer(key: $0.text(0), address: $0.text(1)) }
    }

    public func addPeer(key: String, address: String, at time: Int64) throws(VellumError) {
        try run("INSERT OR REPLACE INTO peers (key, address, added) VALUES (?, ?, ?)", [.text(key), .text(address), .integer(time)])
    }

    /// Removes a peer; false if it was not on the list.
    public func removePeer(key: String) throws(VellumError) -> Bool {
        let before = try count("peers")
        try run("DELETE FROM peers WHERE key = ?", [.text(key)])
        return try count("peers") < before
    }

    /// Records fork evidence; the feed is quarantined from then on. One pair per feed is kept:
    /// more of the same feed prove nothing new, and a writer that equivocates at every seq
    /// must not grow the table (or what is gossiped from it).
    public func addFork(_ a: Entry, _ b: Entry, at time: Int64) throws(VellumError) {
        let (first, second) = a.id < b.id ? (a, b) : (b, a)
        try run(
            "INSERT OR IGNORE INTO forks (feed, seq, first, second, found) SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM forks WHERE feed = ?)",
            [.blob(a.feed.bytes), .integer(Int64(a.seq)), .blob(first.wireBytes), .blob(second.wireBytes), .integer(time), .blob(a.feed.bytes)])
    }

    /// Fork evidence, newest first, at most `limit` pairs.
    public func forks(limit: Int = Int(Int32.max)) throws(VellumError) -> [(Entry, Entry, Int64)] {
        try query("SELECT first, second, found FROM forks ORDER BY found DESC, feed LIMIT ?", [.integer(Int64(limit))]) { row -> (Entry, Entry, Int64)? in
            guard let a = try? Entry(wireBytes: row.blob(0)), let b = try? Entry(wireBytes: row.blob(1)) else { return nil }
            return (a, b, row.int(2))
        }.compactMap { $0 }
    }

    public func quarantinedFeeds() throws(VellumError) -> Set<FeedKey> {
        Set(try query("SELECT DISTINCT feed FROM forks") { FeedKey($0.blob(0))! })
    }

    public func addRejection(peer: String, reason: String, at time: Int64) throws(VellumError) {
        try run("INSERT INTO rejections (at, peer, reason) VALUES (?, ?, ?)", [.integer(time), .text(peer), .text(reason)])
    }

    public func rejections(limit: Int = 1000) throws(VellumError) -> [(Int64, String, String)] {
        try query("SELECT at, peer, reason FROM rejections ORDER BY rowid DESC LIMIT ?", [.integer(Int64(limit))]) {
            ($0.int(0), $0.text(1), $0.text(2))
        }
    }

    // MARK: helpers

    /// The log rows with their feeds' keys: `entries e` joined to `feeds f`.
    static let entriesWithKeys = "entries e JOIN feeds f ON f.n = e.feed"
    /// An entry's columns, of `entries e` and its feed `f` (`entriesWithKeys`; a credential's
    /// issue entry may take `f` from the credential row, which has the same feed).
    static let entryColumns = entryColumns(entry: "e", feed: "f")
    /// The same columns of another alias of `entries` and its feed's row of `feeds`.
    static func entryColumns(entry e: String, feed f: String) -> String {
        "\(f).key, \(e).seq, \(e).prev, \(e).hlc, \(e).kind, \(e).payload, \(e).id, \(e).signature"
    }
    /// A feed's number, from its key bound as the parameter.
    static let feedNumber = "(SELECT n FROM feeds WHERE key = ?)"

    /// An entry from `entryColumns`, starting at column `first`.
    static func readEntry(_ s: Statement, from first: Int32) -> Entry {
        let unsigned = UnsignedEntry(
            feed: FeedKey(s.blob(first)) ?? .zero, seq: UInt64(s.int(first + 1)), prev: EntryID(s.blob(first + 2)) ?? .zero,
            hlc: HLC(rawValue: UInt64(bitPattern: s.int(first + 3))),
            kind: EntryKind(rawValue: UInt8(clamping: s.int(first + 4))) ?? .issue, payload: s.blob(first + 5))
        return Entry(unsigned: unsigned, id: EntryID(s.blob(first + 6)) ?? .zero, signature: s.blob(first + 7))
    }

    static func readEntry(_ s: Statement) -> Entry { readEntry(s, from: 0) }

    /// Prepared statements by SQL text: queries run many times (every status request) are
    /// compiled once. Each is reset after use, so none holds a read snapshot.
    private var statements: [String: Statement] = [:]

    private func statement(_ sql: String) throws(SQLiteError) -> Statement {
        if let cached = statements[sql] { return cached }
        let stmt = try db.prepare(sql)
        statements[sql] = stmt
        return stmt
    }

    func query<T>(_ sql: String, _ values: [Statement.Value] = [], _ row: (Statement) throws -> T) throws(VellumError) -> [T] {
        do {
            let stmt = try statement(sql)
            defer { stmt.reset() }
            stmt.bind(values)
            var out: [T] = []
            while try stmt.step() { out.append(try row(stmt)) }
            return out
        } catch let error as SQLiteError {
            throw VellumError(.storage, error.message)
        } catch {
            throw VellumError(.storage, "\(error)")
        }
    }

    func run(_ sql: String, _ values: [Statement.Value]) throws(VellumError) {
        do { try statement(sql).run(values) } catch { throw VellumError(.storage, error.message) }
    }
}
