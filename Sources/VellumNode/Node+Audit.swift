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

    /// Re-verifies every entry (id, signature, payload, authorization), every chain link, the
    /// feed heads, and the materialized state against a recomputation by the pure merge.
    public func audit() async throws -> AuditReport {
        var all: [Entry] = []
        try store.forEachEntry(byFeed: true) { all.append($0) }
        var state = LedgerState()
        func report(_ problem: String?, credentials: Int = 0, root: EntryID? = nil) throws -> AuditReport {
            AuditReport(
                entries: all.count, feeds: try store.heads().count, credentials: credentials, stateRoot: root, problem: problem,
                notes: problem == nil ? state.ignoredEntries() + (try federationNotes()) : [])
        }
        func name(_ e: Entry) -> String { "entry \(e.id) (feed \(e.feed.hex.prefix(16))…, seq \(e.seq))" }
        // The log's rows name their feeds by number (`feeds`): a row whose number has no feed
        // would be invisible to every read, so count the rows themselves too.
        let rows = try store.count("entries")
        guard all.count == rows else { return try report("the log holds \(rows) entries, but only \(all.count) of them belong to a known feed") }

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

        let heads = try store.heads()
        guard heads == state.heads else { return try report("the feeds table does not match the entries' heads") }
        let expected = state.credentials
        var seen = 0
        var mismatch: String?
        try store.forEachCredential { key, status, issue, decidedBy in
            seen += 1
            guard mismatch == nil else { return }
            guard let r = expected[key] else { mismatch = "materialized credential \(key) has no issue entry"; return }
            if r.base != status || r.issue?.entry != issue || r.decidedBy != decidedBy {
                mismatch = "materialized state of \(key) says \(status.rawValue), the entries say \(r.base.rawValue)"
            }
        }
        if let mismatch { return try report(mismatch) }
        let credentialRows = try store.count("credentials")
        guard seen == expected.count, seen == credentialRows else {
            return try report("materialized state holds \(credentialRows) credentials (\(seen) with their feed and issue entry), the entries issue \(expected.count)")
        }
        // Heads and every credential row match the recomputation, so the root over them does too.
        return try report(nil, credentials: seen, root: try store.stateRoot())
    }
}
