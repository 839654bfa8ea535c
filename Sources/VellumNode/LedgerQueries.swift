import VellumCore
import VellumStore

/// The queries a node answers (status with evidence, verification, freshness, status lists,
/// the state root), over any view of its ledger: the `Node` itself (the CLI), or a
/// `LedgerReader` (the HTTP service: a read-only connection with no key material).
public protocol LedgerQueries {
    var store: LedgerStore { get }
    /// This node's own feed: its answers about its own credentials are current by definition.
    var feed: FeedKey { get }
    var did: DIDKey { get }
    /// The federation this node was created in (`vellum init --federation`), if any.
    var federationID: String? { get }
    var registryCache: RegistryCache { get }
    /// The clock answers are given at.
    func now() -> Timestamp
}

extension LedgerQueries {
    /// The feed of an `issuer` named in a query (a did:key).
    public func issuerFeed(_ issuer: String) throws(VellumError) -> FeedKey { FeedKey(try DIDKey(parsing: issuer).publicKey)! }

    /// Which credential a query names, given the feeds that issued its id (only the feed the
    /// query named, if it named one): a credential is its issuer and its id. Without an
    /// issuer, the id must name one credential in this ledger, or one of this node's own; if
    /// other feeds wrote the same id, the query is refused as ambiguous rather than answered
    /// for whichever came first. A refusal names at most ten of them: anyone can write the id
    /// under new keys. Nil: unknown id.
    func chooseIssuer(among feeds: [FeedKey], of credentialID: String) throws(VellumError) -> FeedKey? {
        if feeds.count <= 1 { return feeds.first }
        if feeds.contains(feed) { return feed }
        let named = feeds.sorted().prefix(10).map(\.didKey.did).joined(separator: ", ")
        throw VellumError(
            .conflict,
            "\(credentialID) is issued by \(feeds.count) issuers (\(named)\(feeds.count > 10 ? ", ..." : "")): name the issuer (--issuer, or ?issuer=)")
    }

    /// The record of the credential a query names (`chooseIssuer`'s rule; `issuer`: the feed
    /// the query named, if any), read in one query: outside a federation, all that a current
    /// status answer needs (`report`). Nil: unknown.
    package func askedRecord(_ credentialID: String, issuer: FeedKey?) throws(VellumError) -> StatusRecord? {
        let (issuers, record) = try store.statusRecords(of: credentialID, issuer: issuer, preferring: self.feed)
        // The store read the record of this node's own feed if it issued the id, else of the
        // first issuer: the one the rule chooses, unless it refuses. Checked all the same.
        guard let chosen = try chooseIssuer(among: issuers, of: credentialID) else { return nil }
        return record?.key.feed == chosen ? record : nil
    }

    /// How current this node's copy of the issuing feed a query names is, chosen as by
    /// `askedRecord`, in one narrower query: enough to tell whether an answer given before
    /// still holds.
    package func askedIssuerHeld(_ credentialID: String, issuer: FeedKey?) throws(VellumError) -> HeldFeed? {
        let held = try store.issuersHeld(of: credentialID, issuer: issuer)
        guard let chosen = try chooseIssuer(among: held.map(\.head.feed), of: credentialID) else { return nil }
        return held.first { $0.head.feed == chosen }
    }

    /// A credential's status now, or as it was at a past `time` (judged by the log's own
    /// timestamps), with the entries that decided it and how fresh this node's copy of the
    /// issuer's feed is. `issuer`: a did:key, which picks the credential exactly; without one,
    /// `chooseIssuer`'s rule. Read from one snapshot of the ledger, by the same queries as the
    /// HTTP service's answers.
    public func status(of credentialID: String, issuer: String? = nil, at time: Timestamp? = nil) throws(VellumError) -> StatusReport {
        try store.read { () throws(VellumError) -> StatusReport in
            try CredentialID.validate(credentialID)
            let answer = try askedStatus(credentialID, issuer: try issuer.map { (did) throws(VellumError) in try issuerFeed(did) }, at: time)
            return answer
                ?? StatusReport(
                    credentialID: credentialID, status: .unknown, resolution: nil, issuer: issuer, validUntil: nil, evidence: [], asOf: nil,
                    at: time ?? now())
        }
    }

    /// The status of the credential a query names (`issuer`: the feed it named, if any), now
    /// or at a past `time`, in a federation or not. Nil: no feed issued the id. Call inside
    /// `store.read`.
    package func askedStatus(_ credentialID: String, issuer: FeedKey?, at time: Timestamp? = nil) throws(VellumError) -> StatusReport? {
        if let registry = try registry() { return try askedFederatedStatus(credentialID, issuer: issuer, registry: registry, at: time) }
        guard let record = try askedRecord(credentialID, issuer: issuer) else { return nil }
        return try report(record, at: time)
    }

    /// The status of one credential (issuer and id), as `status(of:issuer:at:)`. Its reads
    /// (the state, the deciding entries, the issuer's head) share one snapshot: a revocation
    /// committed between them cannot pair an "active" state with the head that revoked it.
    public func status(of key: CredentialKey, at time: Timestamp? = nil) throws(VellumError) -> StatusReport {
        try store.read { () throws(VellumError) -> StatusReport in try snapshotStatus(of: key, at: time) }
    }

    private func snapshotStatus(of key: CredentialKey, at time: Timestamp?) throws(VellumError) -> StatusReport {
        if let registry = try registry() { return try federatedStatus(of: key, at: time, registry: registry) }
        guard let record = try store.statusRecord(of: key) else { return .unknown(key, at: time ?? now()) }
        return try report(record, at: time)
    }

    /// A status answer from the credential's record: now, or at a past `time` (merged again
    /// from the entries stamped by then). Only outside a federation, where the issuer's feed
    /// alone decides a status and no answer carries a trust path (`status(of:at:)` chooses).
    package func report(_ record: StatusRecord, at time: Timestamp? = nil) throws(VellumError) -> StatusReport {
        let now = now()
        var (resolution, evidence) = (record.resolution, record.evidence)
        if let time, time < now { (resolution, evidence) = try store.resolution(of: record.key, asOf: time) }
        guard let issue = resolution.issue else { return .unknown(record.key, at: time ?? now) }  // not yet issued at `time`
        return StatusReport(
            credentialID: record.key.id, status: resolution.status(at: time ?? now), resolution: resolution, issuer: issue.issuer,
            validUntil: issue.validUntil?.rfc3339, evidence: evidence, asOf: freshness(record.held), at: time ?? now)
    }

    /// Verifies a presented credential against this node's ledger: the record looked up is the
    /// one of the issuer the document names, never another feed's credential with the same id.
    /// Its reads share one snapshot, as a status answer's do.
    public func verify(_ credential: JSON) throws(VellumError) -> NodeVerification {
        try store.read { () throws(VellumError) -> NodeVerification in try snapshotVerify(credential) }
    }

    private func snapshotVerify(_ credential: JSON) throws(VellumError) -> NodeVerification {
        var record: LedgerRecord?
        var evidence: [Entry] = []  // the entries `record`'s resolution names
        var trust: TrustAnswer?
        let issuer = CredentialVerifier.issuer(of: credential)
        let registry = try registry()
        if let id = credential["id"]?.stringValue, CredentialID.isValid(id), let issuer, let did = try? DIDKey(parsing: issuer) {
            let key = CredentialKey(feed: FeedKey(did.publicKey)!, id: id)
            if let registry {
                let answer = try federatedStatus(of: key, at: nil, registry: registry)
                trust = answer.trust
                // The federated merge's issue, not the materialized row's: a key cut off after S
                // may have re-issued the id, stamped earlier, with another document.
                if let resolution = answer.resolution, let issue = answer.evidence.first, issue.id == resolution.issue?.entry,
                    case .issue(let payload) = try? EntryPayload(stored: .issue, bytes: issue.payload)
                {
                    (record, evidence) = (LedgerRecord(payload: payload, resolution: resolution), answer.evidence)
                }
            } else {
                (record, evidence) = try store.record(of: key) ?? (nil, [])
            }
        }
        if trust == nil, let registry {
            trust = TrustAnswer(
                issuer: issuer ?? "", trusted: false, organization: nil, federation: (registry.federationID, registry.name),
                reason: "the ledger holds no issue of this credential by its issuer", evidence: [])
        }
        let verdict = trust.map { t in
            (t.trusted, t.trusted ? "\(t.organization?.name ?? "its organization") is a member of \(t.federation.name)" : t.reason ?? "not trusted")
        }
        var report = CredentialVerifier.verify(credential, record: record, at: now(), trust: verdict)
        report.trust = trust?.json
        return NodeVerification(report: report, evidence: evidence, asOf: try freshness(of: record?.resolution.issue?.feed))
    }

    /// The head this node holds of `feed` and when it last caught up with it (now, for its own).
    public func freshness(of feed: FeedKey?) throws(VellumError) -> Freshness? {
        guard let feed, let held = try store.freshness(of: feed) else { return nil }
        return freshness(held)
    }

    /// How current this node's copy of a feed is, as an answer states it.
    public func freshness(_ held: HeldFeed) -> Freshness {
        let own = held.head.feed == feed
        return Freshness(
            head: held.head, issuerTime: held.hlc.timestamp, issuersNode: own,
            heardAt: own ? now() : held.heard.map(Timestamp.init(millisecondsSinceEpoch:)))
    }

    /// The state root (hex): equal on replicas that hold the same entries.
    public func digest() throws -> EntryID { try store.stateRoot() }
}

/// A read-only view of a node's ledger for answering queries: its own SQLite connection,
/// opened read-only, and no key material (neither the feed key nor the transport key is read).
public final class LedgerReader: LedgerQueries {
    public let store: LedgerStore
    public let feed: FeedKey
    public let did: DIDKey
    public let federationID: String?
    public let registryCache = RegistryCache()
    let clock: () -> Timestamp

    public init(path: String, clock: @escaping () -> Timestamp = Node.systemClock) throws(VellumError) {
        let directory = NodeDirectory(path: path)
        do { store = try LedgerStore(path: directory.ledgerPath, create: false, readOnly: true) } catch {
            throw VellumError(error.code, "\(path) is not a Vellum data directory: \(error.message)")
        }
        guard try store.meta("format") == Node.format, let hex = try store.meta("feed"), let feed = FeedKey(hex: hex) else {
            throw VellumError(.storage, "\(directory.ledgerPath) is not a Vellum ledger")
        }
        self.feed = feed
        did = feed.didKey
        federationID = try store.meta("federation")
        self.clock = clock
    }

    public func now() -> Timestamp { clock() }
}
