@preconcurrency import Crypto
import CSQLite
import Foundation
import Testing
import VellumCore
import VellumNode
@testable import VellumStore

@Suite("Ledger store and node, in process")
struct LedgerStoreTests {
    static func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vellum-store-\(UUID().uuidString)").path
    }

    static let fixedNow = Timestamp(parsing: "2026-11-27T12:00:00Z")!

    @Test("reopening runs no migration twice and keeps the data")
    func reopen() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let issued = try await node.issue(CredentialRequest(subject: "did:example:a", achievementName: "A"))
        let root = try node.digest()
        let reopened = try Node.open(at: dir, clock: { Self.fixedNow })
        #expect(try reopened.digest() == root)
        #expect(try reopened.status(of: issued.id).status == .active)
        #expect(try reopened.store.localDocument(of: CredentialKey(feed: node.feed, id: issued.id)) == issued.document.canonicalString)
    }

    @Test("a bulk run stopped after its first batches resumes: each row issued once, earlier rows handed back in line order")
    func bulkResume() async throws {
        struct Stop: Error {}
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let file = Array("subject,achievement\n".utf8) + Array((0..<25).map { "s\($0)@example.edu,A\n" }.joined().utf8)
        let rows = try BulkIssuance.rows(csv: String(decoding: file, as: UTF8.self), file: "f.csv", now: Self.fixedNow)
        let digest = BulkIssuance.digest(file)
        var seen: [BulkCredential] = []
        try node.beginBulkRun(file: digest, path: "/registrar/f.csv", rows: rows.count)
        // The "crash": the third batch's callback (its files) never completes; its batch is committed.
        await #expect(throws: Stop.self) {
            _ = try await node.issue(rows, file: digest, batchSize: 4) { batch in
                seen += batch
                if seen.count > 8 { throw Stop() }
            }
        }
        #expect(try node.bulkIssued(of: digest).count == 12)
        // The file edited before its run finished: refused, naming the rows already issued.
        let edited = BulkIssuance.digest(file + Array("late@example.edu,A\n".utf8))
        #expect { try node.beginBulkRun(file: edited, path: "/registrar/f.csv", rows: 26) } throws: { error in
            (error as? VellumError)?.message.contains("after issuing 12 of its 25 rows") == true
        }
        var again: [BulkCredential] = []
        let earlier = try await node.issue(rows, file: digest, batchSize: 4) { again += $0 }
        #expect(earlier == 12)
        #expect(again.map(\.line) == rows.map(\.line))
        #expect(Array(again.prefix(12).map(\.id)) == seen.map(\.id))
        #expect(try Set(again.map(\.id)).count == 25 && node.store.count("credentials") == 25)
        #expect(again[3].canonicalDocument == seen[3].canonicalDocument)
        // The same file a third time issues nothing.
        #expect(try await node.issue(rows, file: digest, batchSize: 4) { _ in } == 25)
        #expect(try node.store.count("credentials") == 25)
        // Once the first run is complete, the edited file is a run of its own.
        try node.beginBulkRun(file: edited, path: "/registrar/f.csv", rows: 26)
    }

    @Test("two runs of one bulk file at once: the second to reach a row gets a conflict, and no row is issued twice")
    func bulkRace() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let second = try Node.open(at: dir, clock: { Self.fixedNow })  // another process's connection
        let file = Array("subject,achievement\n".utf8) + Array((0..<6).map { "s\($0)@example.edu,A\n" }.joined().utf8)
        let rows = try BulkIssuance.rows(csv: String(decoding: file, as: UTF8.self), file: "f.csv", now: Self.fixedNow)
        let digest = BulkIssuance.digest(file)
        // The first run has issued its first batch when the second run, started before, issues every row.
        var batches = 0
        await #expect {
            _ = try await first.issue(rows, file: digest, batchSize: 2) { _ in
                batches += 1
                if batches == 1 { _ = try await second.issue(Array(rows[2...]), file: digest, batchSize: 2) { _ in } }
            }
        } throws: { error in
            (error as? VellumError)?.code == .conflict && (error as? VellumError)?.message.contains("another run of this file") == true
        }
        #expect(try first.bulkIssued(of: digest).count == 6)
        #expect(try first.store.count("credentials") == 6)
    }

    /// The log and the credential table as schema 8 had them: the log indexed by entry id, a
    /// credential's deciding entry by its id. The credential rows are kept, mapped to ids.
    static let schema8 = """
        CREATE TABLE entries_old (rowid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, feed INTEGER NOT NULL, seq INTEGER NOT NULL,
            prev BLOB NOT NULL, hlc INTEGER NOT NULL, kind INTEGER NOT NULL, payload BLOB NOT NULL, signature BLOB NOT NULL,
            credential TEXT NOT NULL, UNIQUE (feed, seq));
        INSERT INTO entries_old SELECT rowid, id, feed, seq, prev, hlc, kind, payload, signature, credential FROM entries;
        CREATE TABLE credentials_old (credential TEXT NOT NULL, feed INTEGER NOT NULL, status TEXT NOT NULL, issue_entry INTEGER NOT NULL,
            decided_by BLOB, valid_until INTEGER, PRIMARY KEY (credential, feed)) WITHOUT ROWID;
        INSERT INTO credentials_old SELECT c.credential, c.feed, c.status, c.issue_entry, d.id, c.valid_until
            FROM credentials c LEFT JOIN entries d ON d.rowid = c.decided_by;
        DROP TABLE entries;
        DROP TABLE credentials;
        ALTER TABLE entries_old RENAME TO entries;
        ALTER TABLE credentials_old RENAME TO credentials;
        CREATE INDEX entries_by_credential_feed ON entries (credential, feed);
        CREATE INDEX entries_documents ON entries (rowid) WHERE kind = 6;
        CREATE INDEX credentials_not_active ON credentials (feed, status) WHERE status != 'active';
        ALTER TABLE feeds DROP COLUMN unissued;
        PRAGMA user_version = 8;
        """

    /// The log, the feeds and the (emptied) credential table as schema 7 had them: feeds by
    /// their 32-byte keys, the issue entry by its id.
    static let schema7 = """
        CREATE TABLE feeds_old (feed BLOB PRIMARY KEY, seq INTEGER NOT NULL, head BLOB NOT NULL) WITHOUT ROWID;
        INSERT INTO feeds_old SELECT key, seq, head FROM feeds;
        CREATE TABLE entries_old (rowid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, feed BLOB NOT NULL, seq INTEGER NOT NULL,
            prev BLOB NOT NULL, hlc INTEGER NOT NULL, kind INTEGER NOT NULL, payload BLOB NOT NULL, signature BLOB NOT NULL,
            credential TEXT NOT NULL, UNIQUE (feed, seq));
        INSERT INTO entries_old SELECT e.rowid, e.id, f.key, e.seq, e.prev, e.hlc, e.kind, e.payload, e.signature, e.credential
            FROM entries e JOIN feeds f ON f.n = e.feed;
        DROP TABLE entries;
        DROP TABLE feeds;
        ALTER TABLE entries_old RENAME TO entries;
        ALTER TABLE feeds_old RENAME TO feeds;
        CREATE INDEX entries_by_credential_feed ON entries (credential, feed);
        CREATE INDEX entries_documents ON entries (rowid) WHERE kind = 6;
        CREATE TRIGGER entries_append_only_delete BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'append-only'); END;
        DROP TABLE credentials;
        CREATE TABLE credentials (credential TEXT NOT NULL, feed BLOB NOT NULL, status TEXT NOT NULL, issue_entry BLOB NOT NULL,
            decided_by BLOB, valid_until INTEGER, PRIMARY KEY (credential, feed)) WITHOUT ROWID;
        CREATE INDEX credentials_not_active ON credentials (feed, status) WHERE status != 'active';
        PRAGMA user_version = 7;
        """

    /// What schema 3 had besides: credentials keyed by id alone, the log indexed by credential.
    static let schema3 = """
        DROP TABLE credentials;
        CREATE TABLE credentials (credential TEXT PRIMARY KEY, status TEXT NOT NULL, issue_entry BLOB NOT NULL,
            decided_by BLOB, issuer TEXT NOT NULL, valid_until INTEGER) WITHOUT ROWID;
        CREATE INDEX credentials_not_active ON credentials (issuer, status) WHERE status != 'active';
        DROP INDEX entries_by_credential_feed;
        DROP INDEX entries_documents;
        CREATE INDEX entries_by_credential ON entries (credential);
        DROP TABLE bulk_rows;
        DROP TABLE bulk_runs;
        PRAGMA user_version = 3;
        """

    @Test("a ledger of an older schema (3: credentials keyed by id alone; 7: feeds by their keys; 8: the log indexed by entry id) opens with its log, local documents, bulk rows and state as they were", arguments: [8, 7, 3])
    func migrationRebuildsState(from version: Int) async throws {
        let (dirA, dirB) = (Self.tempDir(), Self.tempDir())
        defer { for d in [dirA, dirB] { try? FileManager.default.removeItem(atPath: d) } }
        let a = try Node.create(at: dirA, name: "A", baseURL: "https://a.example", clock: { Self.fixedNow })
        let b = try Node.create(at: dirB, name: "B", baseURL: "https://b.example", clock: { Self.fixedNow })
        // The ledger under test holds two feeds, arrived interleaved, the other's key sorting
        // first: arrival order, key order and feed numbers all differ.
        let (node, other) = a.feed > b.feed ? (a, b) : (b, a)
        var ids: [String] = []
        for n in 0..<3 { ids.append(try await node.issue(CredentialRequest(subject: "did:example:\(n)", achievementName: "A")).id) }
        let foreign = try await other.issue(CredentialRequest(subject: "did:example:x", achievementName: "X")).id
        try other.changeStatus(.revoke, of: foreign, reason: nil)
        var theirs: [Entry] = []
        try other.store.forEachEntry { theirs.append($0) }
        _ = try await node.importEntries(Array(theirs.prefix(1)))
        try node.changeStatus(.revoke, of: ids[0], reason: nil)
        _ = try await node.importEntries(Array(theirs.dropFirst()))
        try node.changeStatus(.suspend, of: ids[1], reason: nil)
        let file = Array("subject,achievement\ns0@example.edu,A\ns1@example.edu,A\n".utf8)
        let digest = BulkIssuance.digest(file)
        let rows = try BulkIssuance.rows(csv: String(decoding: file, as: UTF8.self), file: "f.csv", now: Self.fixedNow)
        _ = try await node.issue(rows, file: digest, batchSize: 2) { _ in }

        func log(_ n: Node, byFeed: Bool) throws -> [EntryID] {
            var out: [EntryID] = []
            try n.store.forEachEntry(byFeed: byFeed) { out.append($0.id) }
            return out
        }
        let (root, arrival, byFeed) = (try node.digest(), try log(node, byFeed: false), try log(node, byFeed: true))
        #expect(arrival != byFeed)
        let bulk = try node.store.bulkRows(file: digest).map { "\($0.line) \($0.id) \($0.document)" }
        #expect(bulk.count == 2)
        let documents = try ids.map { try node.store.localDocument(of: CredentialKey(feed: node.feed, id: $0)) }
        #expect(documents.allSatisfy { $0 != nil })
        // The old tables and indexes; before schema 8, the credential table holding nothing (as if it had been taken over).
        var db: OpaquePointer?
        sqlite3_open(node.directory.ledgerPath, &db)
        let rewind = [8: Self.schema8, 7: Self.schema7, 3: Self.schema7 + Self.schema3][version]!
        #expect(sqlite3_exec(db, rewind, nil, nil, nil) == SQLITE_OK)
        sqlite3_close(db)
        let reopened = try Node.open(at: node.directory.path, clock: { Self.fixedNow })
        #expect(try reopened.digest() == root)
        #expect(try log(reopened, byFeed: false) == arrival && log(reopened, byFeed: true) == byFeed)
        #expect(try ids.map { try reopened.status(of: $0).status } == [.revoked, .suspended, .active])
        #expect(try reopened.status(of: foreign).status == .revoked)
        #expect(try ids.map { try reopened.store.localDocument(of: CredentialKey(feed: node.feed, id: $0)) } == documents)
        // (Schema 3 had no bulk rows: its rewind dropped them.)
        #expect(try reopened.store.bulkRows(file: digest).map { "\($0.line) \($0.id) \($0.document)" } == (version == 3 ? [] : bulk))
        let audit = try await reopened.audit()
        #expect(audit.ok && audit.entries == arrival.count, "\(audit.problem ?? "")")
        #expect(try reopened.store.meta("rematerialize") == nil)
        // The log's one unique index is (feed, seq): none by entry id (schema 9). Documents are
        // found by id through their partial index.
        #expect(try reopened.store.count("pragma_index_list('entries') WHERE \"unique\"") == 1)
        #expect(try reopened.store.count("pragma_index_info('entries_documents') WHERE name = 'id'") == 1)
        // The log is append-only again after the copy, and a feed keeps its number.
        sqlite3_open(node.directory.ledgerPath, &db)
        for sql in ["DELETE FROM entries", "UPDATE entries SET seq = seq + 1", "DELETE FROM feeds", "UPDATE feeds SET n = n + 10", "UPDATE feeds SET key = zeroblob(32)"] {
            #expect(sqlite3_exec(db, sql, nil, nil, nil) != SQLITE_OK, "\(sql)")
        }
        sqlite3_close(db)
        #expect(try log(reopened, byFeed: false) == arrival)
        // Until the rebuild has run, a reader refuses rather than answer "unknown" for everything.
        try reopened.store.setMeta("rematerialize", "1")
        let path = node.directory.path
        #expect(throws: VellumError.self) { try LedgerReader(path: path, clock: { Self.fixedNow }) }
        _ = try Node.open(at: path, clock: { Self.fixedNow })
        #expect(try LedgerReader(path: path, clock: { Self.fixedNow }).status(of: ids[0]).status == .revoked)
    }

    @Test("upgrading from schema 8, a deciding entry that is not its credential's own has the state rebuilt from the log: no such entry, a stranger's revocation of the same id, the issuer's revocation of another credential",
          arguments: ["none", "stranger", "other credential"])
    func migrationRebuildsUnmappedDecider(decider: String) async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let id = try await node.issue(CredentialRequest(subject: "did:example:a", achievementName: "A")).id
        try node.changeStatus(.revoke, of: id, reason: nil)
        // A real entry with the wrong authority: a stranger's feed revoking the same id, or the
        // issuer revoking another credential. Mapped by id alone, it would become the decider.
        let strangerKey = Curve25519.Signing.PrivateKey()
        var strangerFeed = FeedWriter(key: strangerKey, head: nil, clock: HLC(rawValue: 0))
        let stranger = strangerFeed.append([(.revoke, .status(.init(credentialID: id, reason: "takeover")))], now: Self.fixedNow).map(\.entry)
        _ = try await node.importEntries(stranger)
        let other = try await node.issue(CredentialRequest(subject: "did:example:b", achievementName: "B")).id
        try node.changeStatus(.revoke, of: other, reason: nil)
        let wrong: [UInt8] = switch decider {
        case "stranger": stranger[0].id.bytes
        case "other credential": try #require(node.status(of: other).evidence.last { $0.kind == .revoke }).id.bytes
        default: Array(repeating: 0, count: 32)
        }
        let (root, evidence) = (try node.digest(), try node.status(of: id).evidence.map(\.id))
        var db: OpaquePointer?
        sqlite3_open(node.directory.ledgerPath, &db)
        #expect(sqlite3_exec(db, Self.schema8 + "UPDATE credentials SET decided_by = x'\(Hex.encode(wrong))' WHERE credential = '\(id)';", nil, nil, nil) == SQLITE_OK)
        sqlite3_close(db)
        let reopened = try Node.open(at: dir, clock: { Self.fixedNow })
        #expect(try reopened.digest() == root && reopened.status(of: id).status == .revoked)
        #expect(try reopened.status(of: id).evidence.map(\.id) == evidence, "the issuer's own revocation is the answer's evidence again")
        #expect(try await reopened.audit().ok && reopened.store.meta("rematerialize") == nil)
    }

    @Test("upgrading from schema 9, or from 7 (its state rebuilt from the log), marks the feeds holding a status change of a credential they have not issued, and only those; that credential's later issue is materialized with it, as the merge has it",
          arguments: [9, 7])
    func migrationMarksUnissued(from version: Int) async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let own = try await node.issue(CredentialRequest(subject: "did:example:a", achievementName: "A")).id
        try node.changeStatus(.revoke, of: own, reason: nil)
        // Another feed revokes an id before it issues it: a fact with no credential row.
        var early = FeedWriter(key: Curve25519.Signing.PrivateKey(), head: nil, clock: HLC(rawValue: 0))
        let revoke = early.append([(.revoke, .status(.init(credentialID: "urn:uuid:early", reason: nil)))], now: Self.fixedNow).map(\.entry)
        _ = try await node.importEntries(revoke)
        var db: OpaquePointer?
        sqlite3_open(node.directory.ledgerPath, &db)
        let rewind = version == 9 ? "ALTER TABLE feeds DROP COLUMN unissued; PRAGMA user_version = 9;" : Self.schema7
        #expect(sqlite3_exec(db, rewind, nil, nil, nil) == SQLITE_OK)
        sqlite3_close(db)
        let reopened = try Node.open(at: dir, clock: { Self.fixedNow })
        let marked = try reopened.store.query("SELECT key FROM feeds WHERE unissued = 1", []) { FeedKey($0.blob(0))! }
        #expect(marked == [revoke[0].feed])
        // Its issue now arrives alone in a batch: the revocation stored before it still decides.
        let issue = early.append([(.issue, EquivocationOrderTests.payload("urn:uuid:early", revoke[0].feed))], now: Self.fixedNow).map(\.entry)
        _ = try await reopened.importEntries(issue)
        var stored: [Entry] = []
        try reopened.store.forEachEntry { stored.append($0) }
        let merged = LedgerState(try await EntryVerifier.verify(stored, heads: [:], knownID: { _, _ in nil }).map(\.verified))
        #expect(try reopened.digest() == merged.stateRoot)
        let status = try reopened.store.resolution(of: CredentialKey(feed: revoke[0].feed, id: "urn:uuid:early"), asOf: Self.fixedNow).resolution.base
        #expect(status == .revoked)
        #expect(try await reopened.audit().ok)
    }

    @Test("a bulk batch ends on a checkpoint: a replica checks each of its runs with one signature; the next batch's checkpoints cover only what came after it")
    func bulkBatchClosesItsRun() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "B", baseURL: "https://b.example", clock: { Self.fixedNow })
        let n = Int(CheckpointPayload.interval)
        for (count, batchSize) in [(n + n / 2, 4000), (n / 4, 4000), (n / 2, n / 5)] {
            let csv = "subject,achievement\n" + (0..<count).map { "s\($0)-\(count)@example.edu,A\n" }.joined()
            let rows = try BulkIssuance.rows(csv: csv, file: "f\(count).csv", now: Self.fixedNow)
            _ = try await node.issue(rows, file: BulkIssuance.digest(Array(csv.utf8)), batchSize: batchSize) { _ in }
            var feed: [Entry] = []
            try node.store.forEachEntry(byFeed: true) { feed.append($0) }
            // After the last checkpoint, only the status lists a batch opened (published as it is
            // stored, after its run was closed) or fewer entries than are worth closing; every
            // other entry is vouched for.
            let start = (feed.lastIndex { $0.kind == .checkpoint } ?? -1) + 1
            let tail = Array(feed[start...])
            #expect(tail.count { $0.kind != .statusList } < FeedWriter.closingAtLeast, "\(tail.map(\.kind))")
            #expect(Set(feed.indices).subtracting(EntryVerifier.vouched(feed)) == Set(start..<feed.count))
            let head = try #require(node.store.heads()[node.feed])
            #expect(try node.store.signaturesSinceCheckpoint(feed: node.feed, head: head.seq) == tail.map(\.signature))
        }
        #expect(try await node.audit().ok)
        // A single issue closes nothing: a checkpoint per credential would double its signatures.
        _ = try await node.issue(CredentialRequest(subject: "did:example:one", achievementName: "A"))
        var last: Entry?
        try node.store.forEachEntry(byFeed: true) { last = $0 }
        #expect(last?.kind == .issue)
    }

    @Test("audit counts the rows: a log row whose feed number has no feed, a credential row whose issue entry is missing, or one whose deciding entry is missing or another feed's, a feed holding a status change of a credential it has not issued but not marked so, is found, not skipped",
          arguments: [
              ("DROP TRIGGER feeds_numbers_fixed_delete; DELETE FROM feeds", "belong to a known feed"),
              ("INSERT INTO credentials VALUES ('urn:uuid:ghost', 1, 'active', 999999, NULL, NULL)", "materialized state holds 2 credentials (1 with"),
              ("UPDATE credentials SET decided_by = 999999", "names 1 deciding entries, of which 0"),
              ("UPDATE credentials SET decided_by = (SELECT rowid FROM entries e WHERE e.feed != credentials.feed)", "names 1 deciding entries, of which 0"),
              ("UPDATE feeds SET unissued = 0", "1 entries speak of credentials with no row"),
          ])
    func auditFindsOrphanRows(tampering: String, problem: String) async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let id = try await node.issue(CredentialRequest(subject: "did:example:a", achievementName: "A")).id
        // A stranger's feed revoking the same id: a real entry a tampered row could name.
        var stranger = FeedWriter(key: Curve25519.Signing.PrivateKey(), head: nil, clock: HLC(rawValue: 0))
        _ = try await node.importEntries(stranger.append([(.revoke, .status(.init(credentialID: id, reason: "takeover")))], now: Self.fixedNow).map(\.entry))
        #expect(try await node.audit().ok)
        // What a tool bypassing the ledger (and its triggers) could leave behind.
        var db: OpaquePointer?
        sqlite3_open(node.directory.ledgerPath, &db)
        #expect(sqlite3_exec(db, tampering, nil, nil, nil) == SQLITE_OK)
        sqlite3_close(db)
        let audit = try await Node.open(at: dir, clock: { Self.fixedNow }).audit()
        #expect(!audit.ok && audit.problem?.contains(problem) == true, "\(audit.problem ?? "ok")")
    }

    @Test("a LedgerReader answers without key material and cannot write")
    func readerHasNoKeysAndCannotWrite() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let issued = try await node.issue(CredentialRequest(subject: "did:example:a", achievementName: "A"))
        // With both key files unreadable, a Node cannot open, a reader can.
        for key in ["feed.key", "transport.key"] { try FileManager.default.moveItem(atPath: dir + "/" + key, toPath: dir + "/" + key + ".away") }
        #expect(throws: VellumError.self) { try Node.open(at: dir) }
        let reader = try LedgerReader(path: dir, clock: { Self.fixedNow })
        #expect(try reader.status(of: issued.id).status == .active)
        #expect(try reader.digest() == node.digest())
        #expect(throws: VellumError.self) { try reader.store.setMeta("name", "Mallory") }
    }

    @Test("a reader's reads inside one `read` see one snapshot: a revocation committed meanwhile shows only after it")
    func readSnapshot() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let issued = try await node.issue(CredentialRequest(subject: "did:example:a", achievementName: "A"))
        let reader = try LedgerReader(path: dir, clock: { Self.fixedNow })
        let revoke = { () throws(VellumError) in
            do { _ = try node.changeStatus(.revoke, of: issued.id, reason: "test") } catch { throw VellumError(.storage, "\(error)") }
        }
        let (before, during, headBefore, headDuring) = try reader.store.read {
            () throws -> (CredentialStatus, CredentialStatus, UInt64?, UInt64?) in
            let before = try reader.status(of: issued.id).status
            let headBefore = try reader.freshness(of: node.feed)?.head.seq
            try revoke()  // another connection commits
            // A nested read (as `status` does itself) joins the snapshot rather than starting a new one.
            let during = try reader.store.read { try reader.status(of: issued.id).status }
            return (before, during, headBefore, try reader.freshness(of: node.feed)?.head.seq)
        }
        #expect(before == .active)
        #expect(during == .active)
        #expect(headBefore != nil && headDuring == headBefore)
        // The snapshot ended with `read`: the next read sees the revocation.
        #expect(try reader.status(of: issued.id).status == .revoked)
        #expect(try reader.freshness(of: node.feed)?.head.seq ?? 0 > headBefore ?? 0)
    }

    @Test("a foreign SQLite database is refused, not converted")
    func foreignDatabase() async throws {
        let dir = Self.tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/other.sqlite"
        var db: OpaquePointer?
        sqlite3_open(path, &db)
        sqlite3_exec(db, "CREATE TABLE photos (name TEXT)", nil, nil, nil)
        sqlite3_close(db)
        #expect(throws: VellumError.self) { try LedgerStore(path: path, create: false) }
        sqlite3_open(path, &db)
        var stmt: OpaquePointer?
        sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &stmt, nil)
        sqlite3_step(stmt)
        #expect(sqlite3_column_int(stmt, 0) == 1)
        sqlite3_finalize(stmt)
        sqlite3_close(db)
    }

    @Test("a failed transaction leaves neither entries nor materialized state behind")
    func atomicAppend() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        _ = try await node.issue(CredentialRequest(subject: "did:example:a", achievementName: "A"))
        let root = try node.digest()
        let before = try node.store.count("entries")
        struct Abort: Error {}
        // A second append whose batch fails midway: nothing of it stays.
        await #expect(throws: Abort.self) {
            try await node.issue([CredentialRequest(subject: "did:example:b", achievementName: "B")]) { _ in }
            try node.store.transaction {
                var writer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
                let payload = IssuePayload(
                    credentialID: "urn:uuid:x", digest: String(repeating: "0", count: 64), issuer: writer.feed.didKey.did,
                    achievementID: "urn:uuid:a", achievementName: "A", achievementType: "Badge", validFrom: "2026-01-01T00:00:00Z",
                    validUntil: nil, statusListIndex: 0, subjectCommitment: String(repeating: "0", count: 64))
                try node.store.append(writer.append([(.issue, .issue(payload))], now: Self.fixedNow))
                throw Abort()
            }
        }
        #expect(try node.store.issuingFeeds(of: "urn:uuid:x").isEmpty)
        #expect(try node.store.count("entries") == before + 1)
        #expect(try node.digest() != root)  // the committed second issue is there
        #expect(try await node.audit().ok)
    }

    /// A stranger's feed, signed by `key`, of issue entries for `ids` (any id the entry rule of
    /// every version allows: `urn:uuid:` and anything after it).
    static func strangerFeed(_ key: Curve25519.Signing.PrivateKey, ids: [String]) -> [Entry] {
        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        let did = writer.feed.didKey.did
        let items: [(EntryKind, EntryPayload)] = ids.map { id in
            (.issue, .issue(IssuePayload(
                credentialID: id, digest: String(repeating: "ab", count: 32), issuer: did, achievementID: "urn:uuid:a", achievementName: "A",
                achievementType: "Badge", validFrom: "2026-01-01T00:00:00Z", validUntil: nil, statusListIndex: 0,
                subjectCommitment: String(repeating: "cd", count: 32))))
        }
        return writer.append(items, now: fixedNow).map(\.entry)
    }

    @Test("an import holding another history of a feed we hold records the fork, sets that feed aside and stores the rest")
    func importWithFork() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        let stranger = Curve25519.Signing.PrivateKey()
        let held = Self.strangerFeed(stranger, ids: ["urn:uuid:one", "urn:uuid:two"])
        _ = try await node.importEntries(held)
        // The same key signed a second history; an honest campus relays it with its own feed.
        // Ids need only the `urn:uuid:` prefix in relayed entries, as entries always have.
        let other = Self.strangerFeed(stranger, ids: ["urn:uuid:uno", "urn:uuid:dos", "urn:uuid:tres"])
        let campus = Self.strangerFeed(.init(), ids: ["urn:uuid:café", "urn:uuid:" + String(repeating: "x", count: 200)])
        let report = try await node.importEntries(other + campus)
        #expect(report.forks == [held[0].feed])
        #expect(report.added == 2)
        #expect(try node.store.quarantinedFeeds() == [held[0].feed])
        #expect(try node.store.heads()[held[0].feed]?.seq == 2 && node.store.heads()[campus[0].feed]?.seq == 2)
        #expect(try await node.audit().ok)
        // Again: nothing new, no error, and still one pair of evidence for the feed.
        #expect(try await node.importEntries(other + campus).added == 0)
        #expect(try node.store.forks().count == 1)

        // A file holding both sides of a fork itself: recorded, the rest stored.
        let twoFaced = Curve25519.Signing.PrivateKey()
        let sideA = Self.strangerFeed(twoFaced, ids: ["urn:uuid:a1", "urn:uuid:a2"]), sideB = Self.strangerFeed(twoFaced, ids: ["urn:uuid:b1"])
        let bystander = Self.strangerFeed(.init(), ids: ["urn:uuid:by"])
        let both = try await node.importEntries(sideA + sideB + bystander)
        #expect(both.forks == [sideA[0].feed] && both.added == 1 && both.setAside == 3)
        #expect(try node.store.forks().count == 2)
    }

    @Test("the materialized state equals the pure merge over the stored entries")
    func materializedMatchesMerge() async throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "U", baseURL: "https://u.example", clock: { Self.fixedNow })
        var ids: [String] = []
        try await node.issue((0..<50).map { CredentialRequest(subject: "did:example:\($0)", achievementName: "A\($0 % 4)") }, batchSize: 7) { batch in
            ids += batch.map(\.id)
        }
        for (i, id) in ids.enumerated() {
            switch i % 5 {
            case 0: try node.changeStatus(.revoke, of: id, reason: nil)
            case 1: try node.changeStatus(.suspend, of: id, reason: nil)
            case 2:
                try node.changeStatus(.suspend, of: id, reason: nil)
                try node.changeStatus(.reinstate, of: id, reason: nil)
            default: break
            }
        }
        var entries: [Entry] = []
        try node.store.forEachEntry { entries.append($0) }
        let verified = try await EntryVerifier.verify(entries, heads: [:], knownID: { _, _ in nil })
        let state = LedgerState(verified.map(\.verified))
        #expect(try node.digest() == state.stateRoot)
        let expected: [CredentialStatus] = [.revoked, .suspended, .active, .active, .active]
        for (i, id) in ids.enumerated() { #expect(try node.status(of: id).status == expected[i % 5]) }
        // Expiry is a matter of the query time.
        #expect(try await node.audit().ok)
    }
}

@Suite("Ledger store: concurrent connections")
struct ConnectionTests {
    @Test("a connection that materialized from the log can still write after another connection commits")
    func noStaleSnapshot() async throws {
        let (dirA, dirB) = (LedgerStoreTests.tempDir(), LedgerStoreTests.tempDir())
        defer { for d in [dirA, dirB] { try? FileManager.default.removeItem(atPath: d) } }
        let a = try Node.create(at: dirA, name: "A", baseURL: "https://a.example")
        let issued = try await a.issue(CredentialRequest(subject: "did:example:a", achievementName: "A"))
        try a.changeStatus(.revoke, of: issued.id, reason: nil)
        var entries: [Entry] = []
        try a.store.forEachEntry { entries.append($0) }

        let b = try Node.create(at: dirB, name: "B", baseURL: "https://b.example")
        let revoke = entries.firstIndex { $0.kind == .revoke }!
        _ = try await b.importEntries(Array(entries[..<revoke]))
        // The revoke's credential is issued in the log, not in the batch: materializing reads the log.
        _ = try await b.importEntries(Array(entries[revoke...]))
        // Another connection (another process, in production) commits meanwhile...
        _ = try await Node.open(at: dirB).issue(CredentialRequest(subject: "did:example:b", achievementName: "B"))
        // ...and the first connection can still start a write transaction.
        _ = try await b.issue(CredentialRequest(subject: "did:example:c", achievementName: "C"))
        #expect(try b.status(of: issued.id).status == .revoked)
        #expect(try await b.audit().ok)
    }
}

@Suite("RFC 4180 CSV")
struct CSVTests {
    @Test("quotes, doubled quotes, CRLF and newlines inside quotes")
    func parse() async throws {
        let records = try CSV.parse("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"multi\nline\",z\n\n")
        #expect(records.map(\.fields) == [["a", "b"], ["x, y", "say \"hi\""], ["multi\nline", "z"]])
        #expect(records.map(\.line) == [1, 2, 3])
    }

    @Test("malformed CSV names its line", arguments: [("a,b\n\"open,c\n", 2), ("a,b\nx\"y,z\n", 2), ("a\n\"q\"x\n", 2)])
    func malformed(text: String, line: Int) {
        #expect(throws: CSV.ParseError.self) { try CSV.parse(text) }
        do { _ = try CSV.parse(text) } catch { #expect(error.line == line) }
    }
}
