@preconcurrency import Crypto

/// The replicated state as a pure function of a set of verified entries: a grow-only set whose
/// merge is union. Applying entries in any order, any number of times, gives the same state.
///
/// Credentials are keyed by (issuing feed, id) (`CredentialKey`): a stranger who writes an
/// issue or status entry for another issuer's credential id makes a credential of its own, and
/// changes nothing of the other's.
///
/// The store keeps the same state materialized in SQLite; `vellum audit` rebuilds it with this
/// type and compares.
public struct LedgerState: Sendable {
    public private(set) var entryIDs: Set<EntryID> = []
    public private(set) var heads: [FeedKey: FeedHead] = [:]
    private var issues: [CredentialKey: [IssueFact]] = [:]
    private var changes: [CredentialKey: [StatusFact]] = [:]

    public init() {}

    public init(_ entries: some Sequence<VerifiedEntry>) {
        for e in entries { apply(e) }
    }

    /// Adds one entry (a no-op if it is already present).
    public mutating func apply(_ entry: VerifiedEntry) {
        guard entryIDs.insert(entry.id).inserted else { return }
        if heads[entry.feed].map({ $0.seq < entry.seq }) ?? true {
            heads[entry.feed] = FeedHead(feed: entry.feed, seq: entry.seq, id: entry.id)
        }
        guard let key = entry.credentialKey else { return }  // a status list: derived, not merged
        switch entry.payload {
        case .issue: issues[key, default: []].append(IssueFact(entry))
        case .status: changes[key, default: []].append(StatusFact(entry))
        case .statusList, .document, .checkpoint: break
        }
    }

    public func resolution(of key: CredentialKey) -> CredentialResolution {
        CredentialMerge.resolve(key, issues: issues[key] ?? [], changes: changes[key] ?? [])
    }

    /// Every credential with a known issue, resolved.
    public var credentials: [CredentialKey: CredentialResolution] {
        var out: [CredentialKey: CredentialResolution] = [:]
        for key in issues.keys { out[key] = resolution(of: key) }
        return out
    }

    /// What the merge ignores and an auditor should see, sorted, at most `limit` lines (then
    /// one line counting the rest): credential ids issued by more than one feed (each is a
    /// separate credential; only its own feed speaks for it), issue entries beyond the first
    /// for one credential, and status entries of a feed about an id it never issued.
    public func ignoredEntries(limit: Int = 50) -> [String] {
        var notes: [String] = []
        var feedsByID: [String: [FeedKey]] = [:]
        for (key, facts) in issues {
            feedsByID[key.id, default: []].append(key.feed)
            if facts.count > 1, let kept = resolution(of: key).issue?.entry {
                for f in facts where f.entry != kept {
                    notes.append("credential \(key.id): feed \(key.feed.hex.prefix(16))… issued it again in entry \(f.entry); the first issue, \(kept), stands")
                }
            }
        }
        for (id, feeds) in feedsByID where feeds.count > 1 {
            notes.append("credential id \(id) is issued by \(feeds.count) feeds (\(feeds.sorted().map { String($0.hex.prefix(16)) + "…" }.joined(separator: ", "))): separate credentials, none can change another's status")
        }
        for (key, facts) in changes where issues[key] == nil {
            notes.append("credential id \(key.id): feed \(key.feed.hex.prefix(16))… changes its status in \(facts.count) entries but never issued it (yet): they count for no credential")
        }
        notes.sort()
        guard notes.count > limit else { return notes }
        return notes.prefix(limit) + ["and \(notes.count - limit) more"]
    }

    public var stateRoot: EntryID {
        var hasher = StateRootHasher()
        for head in heads.values.sorted(by: { $0.feed < $1.feed }) { hasher.add(head) }
        for (key, r) in credentials.sorted(by: { $0.key < $1.key }) {
            guard let issue = r.issue else { continue }
            hasher.add(key, status: r.base, issue: issue.entry, decidedBy: r.decidedBy)
        }
        return hasher.finalize()
    }
}

/// The state root: SHA-256 over the canonical materialized state, fed in a fixed order (feed
/// heads by key bytes, then credentials by id bytes and issuing feed). See Docs/LEDGER.md for
/// the exact lines.
public struct StateRootHasher {
    private var sha = SHA256()
    private var phase = 0

    public init() { sha.update(data: Array("vellum-state-v2\n".utf8)) }

    /// Add feed heads first, in ascending key order.
    public mutating func add(_ head: FeedHead) {
        precondition(phase == 0, "feed heads come before credentials")
        sha.update(data: Array("feed \(head.feed.hex) \(head.seq) \(head.id.hex)\n".utf8))
    }

    /// Then credentials, in ascending `CredentialKey` order.
    public mutating func add(_ key: CredentialKey, status: CredentialStatus, issue: EntryID, decidedBy: EntryID?) {
        phase = 1
        sha.update(data: Array("credential \(key.id) \(key.feed.hex) \(status.rawValue) \(issue.hex) \(decidedBy?.hex ?? "-")\n".utf8))
    }

    public func finalize() -> EntryID { EntryID(Array(sha.finalize()))! }
}
