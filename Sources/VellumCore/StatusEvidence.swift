/// Checks a status answer from a node you do not trust (`vellum status --node`, or any client
/// of `GET /v1/credentials/{id}/status`): the answer carries the signed entries that decided
/// the status and the issuer's feed head the node holds; this recomputes the status from them.
///
/// It proves that the issuer signed every entry shown and that they yield the stated status.
/// It cannot prove that the node left out a later entry: the head it reports bounds how recent
/// the answer is, which is why answers carry `asOf`.
public enum StatusEvidence {
    public struct Checked: Sendable {
        public let status: CredentialStatus
        /// The issue entry's record and the merge of the evidence: what a local verification needs.
        public let record: LedgerRecord?
    }

    /// `issuer`: the did:key the question named, if any; the answer must be about its credential.
    public static func check(_ answer: JSON, credentialID: String, issuer: String? = nil) throws(VellumError) -> Checked {
        func bad(_ problem: String) -> VellumError { VellumError(.invalidEntry, "the node's evidence does not hold: \(problem)") }
        guard let statusText = answer["status"]?.stringValue, let claimed = CredentialStatus(rawValue: statusText) else {
            throw bad("no status in the answer")
        }
        guard let atText = answer["at"]?.stringValue, let at = Timestamp(parsing: atText) else { throw bad("no 'at' time in the answer") }
        guard let evidence = answer["evidence"]?.arrayValue else { throw bad("no evidence list in the answer") }
        var entries: [VerifiedEntry] = []
        for item in evidence {
            let entry = try Entry(json: item)
            entries.append(try EntryVerifier.verifyContents(entry))
        }
        guard !entries.isEmpty else {
            guard claimed == .unknown else { throw bad("status \(claimed.rawValue) comes with no entries") }
            return Checked(status: .unknown, record: nil)
        }
        guard let issue = entries.first(where: { $0.kind == .issue }), case .issue(let payload) = issue.payload else {
            throw bad("no issue entry among the evidence")
        }
        let key = CredentialKey(feed: issue.feed, id: credentialID)
        let issues = entries.filter { $0.kind == .issue }.map(IssueFact.init)
        let changes = entries.filter { $0.kind.changesStatus }.map(StatusFact.init)
        let registry = try federationRegistry(answer["trust"], bad)
        for e in entries {
            guard e.credentialID == credentialID else { throw bad("entry \(e.id) is about \(e.credentialID), not \(credentialID)") }
            guard e.feed == issue.feed || registry != nil else { throw bad("entry \(e.id) is not from the issuer's feed") }
        }
        let resolution: CredentialResolution
        if let registry {
            // In a federation: the path in `trust.evidence` must prove what the answer says.
            guard let merged = FederatedMerge.resolve(key, issues: issues, changes: changes, registry: registry) else { throw bad("no issue entry") }
            guard (merged.authority.org != nil) == (answer["trust"]?["trusted"] == .bool(true)) else {
                throw bad("the trust path does not give what the node says (\(merged.authority.reason ?? "trusted"))")
            }
            resolution = merged.resolution
        } else {
            resolution = CredentialMerge.resolve(key, issues: issues, changes: changes)
        }
        let recomputed = resolution.status(at: at)
        guard recomputed == claimed else { throw bad("the entries give \(recomputed.rawValue), the node says \(claimed.rawValue)") }
        guard answer["issuer"]?.stringValue == payload.issuer else { throw bad("the issuer differs from the issue entry's") }
        // The did:key as a key, not as text: two spellings of one did must not pass for two.
        if let issuer, (try? DIDKey(parsing: issuer))?.publicKey.elementsEqual(issue.feed.bytes) != true {
            throw bad("the answer is about \(payload.issuer)'s credential, not \(issuer.prefix(120))'s")
        }

        if let asOf = answer["asOf"], asOf != .null {
            guard asOf["feed"]?.stringValue == issue.feed.hex else { throw bad("the reported head is not the issuer's feed") }
            guard let seq = asOf["seq"]?.numberValue, entries.allSatisfy({ Double($0.seq) <= seq }) else {
                throw bad("the reported head is older than the evidence")
            }
        }
        return Checked(status: recomputed, record: LedgerRecord(payload: payload, resolution: resolution))
    }

    /// The registry a federated answer's `trust.evidence` proves (the genesis, admissions and
    /// delegations it shows), or nil for an answer without `trust`.
    static func federationRegistry(_ trust: JSON?, _ bad: (String) -> VellumError) throws(VellumError) -> FederationRegistry? {
        guard let trust, trust != .null else { return nil }
        guard let federation = trust["federation"]?["id"]?.stringValue, let list = trust["evidence"]?.arrayValue else {
            throw bad("the trust answer lacks its federation or evidence")
        }
        var documents: [PublishedDocument] = []
        for item in list {
            let v = try EntryVerifier.verifyContents(try Entry(json: item))
            guard case .document(let d) = v.payload else { throw bad("trust evidence entry \(v.id) is not a federation document") }
            documents.append(PublishedDocument(document: d, feed: v.feed, seq: v.seq, entry: v.id))
        }
        return FederationRegistry(federationID: federation, documents: documents)
    }
}
