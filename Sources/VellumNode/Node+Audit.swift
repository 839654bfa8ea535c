import VellumCore
import VellumStore

/// The result of `vellum audit`: what was checked and the first problem, if any.
public struct AuditReport: Sendable {
    public let entries: Int
    public let feeds: Int
    public let credentials: Int
    public let stateRoot: EntryID?
    public let problem: String?
    /// Entries the merge ignores (a credential id another feed also issued, a second issue of
    /// one credential, status changes of an id the feed never issued): not faults of this
    /// replica, but worth an auditor's eye. At most 50 lines, then one counting the rest.
    public let notes: [String]

    public var ok: Bool { problem == nil }

    public var json: JSON {
        [
            "ok": .bool(ok), "entries": .number(Double(entries)), "feeds": .number(Double(feeds)),
            "credentials": .number(Double(credentials)), "stateRoot": stateRoot.map { .string($0.hex) } ?? .null,
            "problem": problem.map(JSON.string) ?? .null, "notes": .array(notes.map(JSON.string)),
        ]
    }
}

extension Node {
    /// In a federation: the feeds whose entries count for nothing (yet), and why; and what the
    /// registry did not apply.
    func federationNotes() throws -> [String] {
        guard let registry = try registry() else { return [] }
        var notes = registry.notes
        for head in try store.heads().values.sorted(by: { $0.feed < $1.feed }) {
            let feed = head.feed
            if let org = registry.delegation(of: feed)?.org, let cut = org.cut(of: feed), head.seq > cut.seq {
                notes.append("\(feed.didKey.did): its entries after seq \(cut.seq) count for nothing (\(cut.reason.rawValue), by \(org.name))")
            } else if let reason = registry.authority(of: feed, seq: head.seq + 1, heldID: { heldID(feed, $0) }).reason,
                try store.entries(feed: feed, fromSeq: 1, limit: Int(min(head.seq, 1000))).contains(where: { $0.kind != .document })
            {
                notes.append("\(feed.didKey.did): its entries count for nothing: \(reason)")
            }
        }
        return notes
    }

    /// What audit reads of the ledger, from one snapshot: a running node may append meanwhile,
    /// and reads from two states would disagree without anything being wrong.
    private struct AuditReading {
        var entries: [Entry] = []
        /// The log's rows, counted: they name their feeds by number (`feeds`), so a row whose
        /// number has no feed would be invisible to every read of the entries.
        var rows = 0
        var heads: [FeedKey: FeedHead] = [:]
        var credentials: [(key: CredentialKey, status: CredentialStatus, issue: EntryID, decidedBy: EntryID?)] = []
        var credentialRows = 0
        /// Credential rows naming a deciding entry (of their own feed and id, or not).
        var decidedRows = 0
        /// Entries about a credential with no row, of feeds not marked as holding such
        /// (`feeds.unissued`): a later issue of that credential would be stored without them.
        var unmarked = 0
        var root = EntryID.zero
    }

    /// Re-verifies every entry (id, signature, payload, authorization), every chain link, the
    /// feed heads, and the materialized state against a recomputation by the pure merge.
    public func audit() async throws -> AuditReport {
        let reading = try store.read {
            var r = AuditReading()
            try store.forEachEntry(byFeed: true) { r.entries.append($0) }
            r.rows = try store.count("entries")
            r.heads = try store.heads()
            try store.forEachCredential { r.credentials.append(($0, $1, $2, $3)) }
            r.credentialRows = try store.count("credentials")
            r.decidedRows = try store.count("credentials WHERE decided_by IS NOT NULL")
            r.unmarked = try store.count("""
                entries e JOIN feeds f ON f.n = e.feed WHERE f.unissued = 0 AND e.kind BETWEEN 1 AND 4
                    AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.credential = e.credential AND c.feed = e.feed)
                """)
            r.root = try store.stateRoot()
            return r
        }
        let all = reading.entries
        var state = LedgerState()
        func report(_ problem: String?, credentials: Int = 0, root: EntryID? = nil) throws -> AuditReport {
            AuditReport(
                entries: all.count, feeds: reading.heads.count, credentials: credentials, stateRoot: root, problem: problem,
                notes: problem == nil ? state.ignoredEntries() + (try federationNotes()) : [])
        }
        func name(_ e: Entry) -> String { "entry \(e.id) (feed \(e.feed.hex.prefix(16))…, seq \(e.seq))" }
        guard all.count == reading.rows else {
            return try report("the log holds \(reading.rows) entries, but only \(all.count) of them belong to a known feed")
        }

        let checked = await Parallel.map(all) { e -> Result<VerifiedEntry, VellumError> in
            do throws(VellumError) { return .success(try EntryVerifier.verifyContents(e)) } catch { return .failure(error) }
        }
        var previous: Entry?
        for (e, result) in zip(all, checked) {
            let verified: VerifiedEntry
            switch result {
            case .success(let v): verified = v
            case .failure(let error): return try report("\(name(e)): \(error.message)")
            }
            let sameFeed = previous?.feed == e.feed
            let expectedSeq = sameFeed ? previous!.seq + 1 : 1
            guard e.seq == expectedSeq else { return try report("\(name(e)): expected seq \(expectedSeq) in its feed") }
            guard e.prev == (sameFeed ? previous!.id : .zero) else {
                return try report("\(name(e)): prev does not link to the entry before it")
            }
            state.apply(verified)
            previous = e
        }

        guard reading.heads == state.heads else { return try report("the feeds table does not match the entries' heads") }
        let expected = state.credentials
        for c in reading.credentials {
            guard let r = expected[c.key] else { return try report("materialized credential \(c.key) has no issue entry") }
            if r.base != c.status || r.issue?.entry != c.issue || r.decidedBy != c.decidedBy {
                return try report("materialized state of \(c.key) says \(c.status.rawValue), the entries say \(r.base.rawValue)")
            }
        }
        let seen = reading.credentials.count
        guard seen == expected.count, seen == reading.credentialRows else {
            return try report(
                "materialized state holds \(reading.credentialRows) credentials (\(seen) with their feed and issue entry), the entries issue \(expected.count)")
        }
        let decided = reading.credentials.count { $0.decidedBy != nil }
        guard decided == reading.decidedRows else {
            return try report(
                "materialized state names \(reading.decidedRows) deciding entries, of which \(decided) are their credential's own feed's entries about it")
        }
        guard reading.unmarked == 0 else {
            return try report("\(reading.unmarked) entries speak of credentials with no row on feeds not marked as holding such (feeds.unissued): a later issue of those credentials would be stored without them")
        }
        // Heads and every credential row match the recomputation, so the root over them does too.
        return try report(nil, credentials: seen, root: reading.root)
    }
}
