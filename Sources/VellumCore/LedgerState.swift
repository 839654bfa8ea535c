@preconcurrency import Crypto

/// The replicated state as a pure function of a set of verified entries: a grow-only set whose
/// merge is union. Applying entries in any order, any number of times, gives the same state.
///
/// The store keeps the same state materialized in SQLite; `vellum audit` rebuilds it with this
/// type and compares.
public struct LedgerState: Sendable {
    public private(set) var entryIDs: Set<EntryID> = []
    public private(set) var heads: [FeedKey: FeedHead] = [:]
    private var issues: [String: [IssueFact]] = [:]
    private var changes: [String: [StatusFact]] = [:]

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
        switch entry.payload {
        case .issue: issues[entry.credentialID, default: []].append(IssueFact(entry))
        case .status: changes[entry.credentialID, default: []].append(StatusFact(entry))
        case .statusList: break  // derived from the statuses; not part of the merged state
        }
    }

    public func resolution(of credentialID: String) -> CredentialResolution {
        CredentialMerge.resolve(issues: issues[credentialID] ?? [], changes: changes[credentialID] ?? [])
    }

    /// Every credential with a known issue, resolved.
    public var credentials: [String: CredentialResolution] {
        var out: [String: CredentialResolution] = [:]
        for id in issues.keys { out[id] = resolution(of: id) }
        return out
    }

    public var stateRoot: EntryID {
        var hasher = StateRootHasher()
        for head in heads.values.sorted(by: { $0.feed < $1.feed }) { hasher.add(head) }
        for (id, r) in credentials.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            guard let issue = r.issue else { continue }
            hasher.add(credentialID: id, status: r.base, issue: issue.entry, decidedBy: r.decidedBy)
        }
        return hasher.finalize()
    }
}

/// The state root: SHA-256 over the canonical materialized state, fed in a fixed order (feed
/// heads by key bytes, then credentials by id bytes). See Docs/LEDGER.md for the exact lines.
public struct StateRootHasher {
    private var sha = SHA256()
    private var phase = 0

    public init() { sha.update(data: Array("vellum-state-v1\n".utf8)) }

    /// Add feed heads first, in ascending key order.
    public mutating func add(_ head: FeedHead) {
        precondition(phase == 0, "feed heads come before credentials")
        sha.update(data: Array("feed \(head.feed.hex) \(head.seq) \(head.id.hex)\n".utf8))
    }

    /// Then credentials, in ascending UTF-8 order of their ids.
    public mutating func add(credentialID: String, status: CredentialStatus, issue: EntryID, decidedBy: EntryID?) {
        phase = 1
        sha.update(data: Array("credential \(credentialID) \(status.rawValue) \(issue.hex) \(decidedBy?.hex ?? "-")\n".utf8))
    }

    public func finalize() -> EntryID { EntryID(Array(sha.finalize()))! }
}
