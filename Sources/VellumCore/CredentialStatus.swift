/// The status a verifier is told.
public enum CredentialStatus: String, Sendable, Hashable, CaseIterable {
    case active, suspended, revoked, expired, unknown
}

/// An issue entry, reduced to what the merge needs.
public struct IssueFact: Sendable, Hashable {
    public let entry: EntryID
    public let feed: FeedKey
    public let hlc: HLC
    public let issuer: String
    public let validUntil: Timestamp?

    public init(entry: EntryID, feed: FeedKey, hlc: HLC, issuer: String, validUntil: Timestamp?) {
        self.entry = entry
        self.feed = feed
        self.hlc = hlc
        self.issuer = issuer
        self.validUntil = validUntil
    }

    public init(_ v: VerifiedEntry) {
        guard case .issue(let p) = v.payload else { preconditionFailure("not an issue entry") }
        self.init(entry: v.id, feed: v.feed, hlc: v.hlc, issuer: p.issuer, validUntil: p.validUntil.flatMap { Timestamp(parsing: $0) })
    }
}

/// A revoke, suspend or reinstate entry, reduced to what the merge needs.
public struct StatusFact: Sendable, Hashable {
    public let entry: EntryID
    public let feed: FeedKey
    public let hlc: HLC
    public let kind: EntryKind

    public init(entry: EntryID, feed: FeedKey, hlc: HLC, kind: EntryKind) {
        self.entry = entry
        self.feed = feed
        self.hlc = hlc
        self.kind = kind
    }

    public init(_ v: VerifiedEntry) { self.init(entry: v.id, feed: v.feed, hlc: v.hlc, kind: v.kind) }
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
        guard let issue = issues.filter({ $0.feed == key.feed }).min(by: { ($0.hlc, $0.entry) < ($1.hlc, $1.entry) }) else {
            return CredentialResolution(base: .unknown, issue: nil, decidedBy: nil)
        }
        let authorized = changes.filter { $0.feed == key.feed }
        if let revoke = authorized.filter({ $0.kind == .revoke }).min(by: { ($0.hlc, $0.entry) < ($1.hlc, $1.entry) }) {
            return CredentialResolution(base: .revoked, issue: issue, decidedBy: revoke.entry)
        }
        let last = authorized.filter { $0.kind == .suspend || $0.kind == .reinstate }
            .max(by: { ($0.hlc, $0.entry) < ($1.hlc, $1.entry) })
        guard let last else { return CredentialResolution(base: .active, issue: issue, decidedBy: nil) }
        return CredentialResolution(base: last.kind == .suspend ? .suspended : .active, issue: issue, decidedBy: last.entry)
    }
}
