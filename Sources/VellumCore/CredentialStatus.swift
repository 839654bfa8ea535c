/// The status a verifier is told.
public enum CredentialStatus: String, Sendable, Hashable, CaseIterable {
    case active, suspended, revoked, expired, unknown
}

/// An issue entry, reduced to what the merge needs.
public struct IssueFact: Sendable, Hashable {
    public let entry: EntryID
    public let feed: FeedKey
    /// The entry's position in its feed: what authority in a federation is judged by.
    public let seq: UInt64
    public let hlc: HLC
    public let issuer: String
    public let validUntil: Timestamp?

    public init(entry: EntryID, feed: FeedKey, seq: UInt64, hlc: HLC, issuer: String, validUntil: Timestamp?) {
        self.entry = entry
        self.feed = feed
        self.seq = seq
        self.hlc = hlc
        self.issuer = issuer
        self.validUntil = validUntil
    }

    public init(_ v: VerifiedEntry) {
        guard case .issue(let p) = v.payload else { preconditionFailure("not an issue entry") }
        self.init(entry: v.id, feed: v.feed, seq: v.seq, hlc: v.hlc, payload: p)
    }

    /// What the merge reads of an issue entry and its payload.
    public init(entry: EntryID, feed: FeedKey, seq: UInt64, hlc: HLC, payload p: IssuePayload) {
        self.init(entry: entry, feed: feed, seq: seq, hlc: hlc, issuer: p.issuer, validUntil: p.validUntil.flatMap { Timestamp(parsing: $0) })
    }
}

/// A revoke, suspend or reinstate entry, reduced to what the merge needs.
public struct StatusFact: Sendable, Hashable {
    public let entry: EntryID
    public let feed: FeedKey
    public let seq: UInt64
    public let hlc: HLC
    public let kind: EntryKind

    public init(entry: EntryID, feed: FeedKey, seq: UInt64, hlc: HLC, kind: EntryKind) {
        self.entry = entry
        self.feed = feed
        self.seq = seq
        self.hlc = hlc
        self.kind = kind
    }

    public init(_ v: VerifiedEntry) { self.init(entry: v.id, feed: v.feed, seq: v.seq, hlc: v.hlc, kind: v.kind) }
}

/// The merged state of one credential, independent of the query time.
public struct CredentialResolution: Sendable, Hashable {
    /// `active`, `suspended`, `revoked` or `unknown`; expiry is applied by `status(at:)`.
    public let base: CredentialStatus
    public let issue: IssueFact?
    /// The status entry that decided `base`, if any.
    public let decidedBy: EntryID?

    public init(base: CredentialStatus, issue: IssueFact?, decidedBy: EntryID?) {
        self.base = base
        self.issue = issue
        self.decidedBy = decidedBy
    }

    /// The status at `time`: expired once past validUntil, unless revoked (revoked is terminal).
    public func status(at time: Timestamp) -> CredentialStatus {
        if base == .active || base == .suspended, let until = issue?.validUntil, time > until { return .expired }
        return base
    }

    /// The entries a verifier can check to confirm the status.
    public var evidence: [EntryID] { [issue?.entry, decidedBy].compactMap { $0 } }
}

/// The CRDT merge for one credential (one `CredentialKey`: issuing feed and id), a pure
/// function of the set of facts about it:
/// - the issue is the earliest issue entry of the issuing feed by (HLC, id), so a feed that
///   issued one id twice still resolves the same way everywhere;
/// - only status entries of the issuing feed count (any other is ignored);
/// - any revoke wins (revoked is terminal), the earliest by (HLC, id) is the evidence;
/// - otherwise the last suspend or reinstate by (HLC, id) decides; none means active.
///
/// Callers gather facts by `CredentialKey`, so facts of another feed never reach it; the
/// filters below keep that true even for a caller that mixes them up.
public enum CredentialMerge {
    public static func resolve(_ key: CredentialKey, issues: [IssueFact], changes: [StatusFact]) -> CredentialResolution {
        guard let issue = issue(of: key, among: issues) else { return CredentialResolution(base: .unknown, issue: nil, decidedBy: nil) }
        return resolve(issue, authorized: changes.filter { $0.feed == key.feed })
    }

    /// The issue entry that stands: the issuing feed's earliest by (HLC, id).
    public static func issue(of key: CredentialKey, among issues: [IssueFact]) -> IssueFact? {
        issues.filter({ $0.feed == key.feed }).min(by: { ($0.hlc, $0.entry) < ($1.hlc, $1.entry) })
    }

    /// The status decided by the changes that count (revoke terminal, then the last suspend or
    /// reinstate by (HLC, id)); who may change it is the caller's filter.
    public static func resolve(_ issue: IssueFact, authorized: [StatusFact]) -> CredentialResolution {
        if let revoke = authorized.filter({ $0.kind == .revoke }).min(by: { ($0.hlc, $0.entry) < ($1.hlc, $1.entry) }) {
            return CredentialResolution(base: .revoked, issue: issue, decidedBy: revoke.entry)
        }
        let last = authorized.filter { $0.kind == .suspend || $0.kind == .reinstate }
            .max(by: { ($0.hlc, $0.entry) < ($1.hlc, $1.entry) })
        guard let last else { return CredentialResolution(base: .active, issue: issue, decidedBy: nil) }
        return CredentialResolution(base: last.kind == .suspend ? .suspended : .active, issue: issue, decidedBy: last.entry)
    }
}
