import Foundation
import VellumCore
import VellumStore

/// The registry of a node's federation, rebuilt only when the log's documents change, and the
/// trust answers of its members' campuses.
public final class RegistryCache: @unchecked Sendable {  // `cached` and `trust` are guarded by `lock`
    private let lock = NSLock()
    /// The registry, the number of documents it was built from, and the rowid of the log's last
    /// entry when that number was read: all of one committed snapshot.
    private var cached: (count: Int, last: Int64, registry: FederationRegistry)?
    /// Trust answers of campuses that count for a member, by feed and authority, under the
    /// registry whose `documentCount` is `trust.documents`: a function of the registry, the
    /// feed and its authority alone, from which every status answer about a campus's
    /// credentials starts. Only members' (`.member`): their keys are the delegations a member
    /// signed and its campus accepted, while anyone can name a new untrusted did:key in every
    /// query, and a cut-off key's reason names the seq of each entry it writes after the cut.
    /// Other answers are read and written anew each time. Up to `trustLimit` answers.
    private var trust: (documents: Int, answers: [TrustKey: TrustAnswer]) = (0, [:])
    private static let trustLimit = 1024

    struct TrustKey: Hashable {
        let feed: FeedKey
        let authority: FederationRegistry.Authority
    }

    public init() {}

    /// The trust answer kept for `key` under `registry`, if any.
    func trustAnswer(_ key: TrustKey, in registry: FederationRegistry) -> TrustAnswer? {
        lock.withLock { trust.documents == registry.documentCount ? trust.answers[key] : nil }
    }

    /// Keeps a member campus's `answer` for `key` under `registry`. The first answer kept
    /// under a newer registry, or once `trustLimit` are kept, drops all the others; an older
    /// registry's (a snapshot taken before the last change) is not kept.
    func keep(_ answer: TrustAnswer, for key: TrustKey, in registry: FederationRegistry) {
        guard case .member = key.authority else { return }
        lock.withLock {
            guard registry.documentCount >= trust.documents else { return }
            if registry.documentCount > trust.documents || trust.answers.count >= Self.trustLimit {
                trust = (registry.documentCount, [:])
            }
            trust.answers[key] = answer
        }
    }

    /// Every status answer asks for it, so the usual case is one seek to the log's end: the
    /// committed log only grows, so a snapshot whose last entry has the same rowid holds the same
    /// entries, and one that grew is counted again (documents are only appended: an equal count
    /// is the same documents). A registry read inside a write transaction is used but not kept:
    /// the transaction may yet be rolled back, and SQLite gives a rolled-back row's rowid to the
    /// next row stored. Each connection has its own cache, and its snapshots only move forward.
    func registry(federationID: String, store: LedgerStore) throws(VellumError) -> FederationRegistry {
        try store.read { () throws(VellumError) -> FederationRegistry in
            let last = try store.lastRowID()
            let known = lock.withLock { cached }
            if let known, known.last == last { return known.registry }
            let count = try store.documentCount()
            let registry = if let known, known.count == count { known.registry } else {
                FederationRegistry(federationID: federationID, documents: try store.documents())
            }
            if !store.writing { lock.withLock { cached = (count, last, registry) } }
            return registry
        }
    }
}

extension LedgerQueries {
    /// The registry of this node's federation; nil for a node outside any federation.
    public func registry() throws(VellumError) -> FederationRegistry? {
        guard let federationID else { return nil }
        return try registryCache.registry(federationID: federationID, store: store)
    }

    func requireRegistry() throws(VellumError) -> FederationRegistry {
        guard let registry = try registry() else {
            throw VellumError(.notFound, "this node belongs to no federation (create one with 'vellum init --name NAME --federation GENESIS')")
        }
        return registry
    }

    /// Which entry this replica holds at a (feed, seq): the registry's view of compromise cuts.
    func heldID(_ feed: FeedKey, _ seq: UInt64) -> EntryID? { try? store.entryID(feed: feed, seq: seq) }

    /// The trust answer for an issuer now: a campus feed's did:key (is it delegated, at its next
    /// entry, by a current member?) or an organization's did:vellum (is it a current member?).
    public func trust(_ did: String) throws(VellumError) -> TrustAnswer {
        let registry = try requireRegistry()
        if did.hasPrefix(OrgEvent.idPrefix) { return try recognition(of: did, in: registry) }
        let feed = FeedKey(try DIDKey(parsing: did).publicKey)!
        let next = (try store.heads()[feed]?.seq ?? 0) + 1
        var authority = registry.authority(of: feed, seq: next) { heldID(feed, $0) }
        // Ended without a cut (superseded): what it wrote still counts, but it is no longer a
        // recognised issuer.
        if case .member(let orgID, _) = authority, let org = registry.organizations[orgID], let (_, u) = org.undelegations[feed]?.last {
            authority = .untrusted("\(feed.didKey.did) was undelegated (\(u.reason.rawValue)) by \(org.name); its earlier entries still count")
        }
        return try trustAnswer(feed: feed, authority: authority, in: registry)
    }

    /// Whether an organization is a current member, with the genesis and its admission.
    public func recognition(of org: String, in registry: FederationRegistry) throws(VellumError) -> TrustAnswer {
        let known = registry.organizations[org]
        let member = registry.members[org]
        let reason: String? =
            if member != nil { nil } else if known == nil { "no log of \(org) is known to this replica" } else {
                "\(known!.name) is not a member of \(registry.name) at membership version \(registry.version.number)"
            }
        return TrustAnswer(
            issuer: org, trusted: member != nil, organization: known.map { ($0.id, $0.name) }, federation: (registry.federationID, registry.name),
            reason: reason, evidence: try store.documentEntries(registry.evidence(ofMember: org)))
    }

    /// The trust answer for `feed`'s entries under `authority`. A member campus's is kept, but
    /// not one read inside a write transaction, whose documents may yet be rolled back and
    /// their count then be another document's.
    func trustAnswer(feed: FeedKey, authority: FederationRegistry.Authority, in registry: FederationRegistry) throws(VellumError) -> TrustAnswer {
        let key = RegistryCache.TrustKey(feed: feed, authority: authority)
        if let known = registryCache.trustAnswer(key, in: registry) { return known }
        let orgID: String? =
            switch authority {
            case .member(let org, _), .cutOff(let org, _): org
            case .untrusted: registry.delegation(of: feed)?.org.id
            }
        let org = orgID.flatMap { registry.organizations[$0] }
        let answer = TrustAnswer(
            issuer: feed.did, trusted: authority.org != nil, organization: org.map { ($0.id, $0.name) },
            federation: (registry.federationID, registry.name), reason: authority.reason,
            evidence: try store.documentEntries(registry.evidence(for: authority, feed: feed)))
        if !store.writing { registryCache.keep(answer, for: key, in: registry) }
        return answer
    }

    /// The status in a federation of the credential a query names, now or at a past `time`,
    /// chosen by `chooseIssuer`'s rule among the feeds that issued the id: the query that reads
    /// the merge's facts also reads which feeds those are and how current each is. Nil: unknown.
    func askedFederatedStatus(_ credentialID: String, issuer: FeedKey?, registry: FederationRegistry, at time: Timestamp?) throws(VellumError)
        -> StatusReport?
    {
        let facts = try store.federatedFacts(of: credentialID, preferring: issuer ?? feed)
        let issuers = facts.heldIssuers.map(\.head.feed).filter { issuer == nil || $0 == issuer }
        guard let chosen = try chooseIssuer(among: issuers, of: credentialID) else { return nil }
        return try federatedStatus(of: CredentialKey(feed: chosen, id: credentialID), at: time, registry: registry, facts: facts)
    }

    /// A credential's status in a federation (`FederatedMerge`), with its trust answer.
    /// `facts`: those of `key.id`, if already read in this snapshot (`askedFederatedStatus`).
    func federatedStatus(of key: CredentialKey, at time: Timestamp?, registry: FederationRegistry, facts: CredentialFacts? = nil) throws(VellumError)
        -> StatusReport
    {
        let now = now()
        let facts = if let facts { facts } else { try store.federatedFacts(of: key.id, preferring: key.feed) }
        // The issue that stands is always of `key.feed`: no other feed's issue counts.
        var (issues, issueEntry) = facts.issues(of: key.feed)
        var changes = facts.changes
        if let time, time < now {
            let cutoff = HLC(milliseconds: UInt64(max(0, time.millisecondsSinceEpoch)), counter: .max)
            issues = issues.filter { $0.hlc <= cutoff }
            changes = changes.filter { $0.hlc <= cutoff }
        }
        guard let merged = FederatedMerge.resolve(key, issues: issues, changes: changes, registry: registry, heldID: heldID),
            let issue = merged.resolution.issue
        else { return .unknown(key, at: time ?? now) }
        var trust = try trustAnswer(feed: key.feed, authority: merged.authority, in: registry)
        // A sibling campus decided it: its delegation goes with the evidence, so a client can
        // check that it acts for the same organization (`StatusEvidence`).
        if let decider = merged.resolution.decidedBy, let change = changes.first(where: { $0.entry == decider }), change.feed != key.feed,
            case .member(_, let accepted) = registry.authority(of: change.feed, seq: change.seq, heldID: { heldID(change.feed, $0) }),
            !trust.evidence.contains(where: { $0.id == accepted }), let entry = try store.documentEntries([accepted]).first
        {
            trust = TrustAnswer(
                issuer: trust.issuer, trusted: trust.trusted, organization: trust.organization, federation: trust.federation, reason: trust.reason,
                evidence: trust.evidence + [entry])
        }
        // The evidence: the issue entry (the one the facts query read whole, unless another
        // counts, as in a query of the past) and the deciding entry, each read at its feed and seq.
        if issueEntry?.id != issue.entry { issueEntry = try store.entry(feed: issue.feed, seq: issue.seq) }
        var decider: Entry?
        if let change = changes.first(where: { $0.entry == merged.resolution.decidedBy }) { decider = try store.entry(feed: change.feed, seq: change.seq) }
        let held = facts.heldIssuers.first { $0.head.feed == issue.feed }
        let asOf = if let held { freshness(held) } else { try freshness(of: issue.feed) }
        return StatusReport(
            credentialID: key.id, status: merged.resolution.status(at: time ?? now), resolution: merged.resolution, issuer: issue.issuer,
            validUntil: issue.validUntil?.rfc3339, evidence: [issueEntry, decider].compactMap { $0 }, asOf: asOf,
            at: time ?? now, trust: trust)
    }
}
