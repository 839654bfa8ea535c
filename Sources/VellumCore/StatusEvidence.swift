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
        for e in entries {
            guard e.credentialID == credentialID else { throw bad("entry \(e.id) is about \(e.credentialID), not \(credentialID)") }
            guard e.feed == issue.feed else { throw bad("entry \(e.id) is not from the issuer's feed") }
        }
        let resolution = CredentialMerge.resolve(
            CredentialKey(feed: issue.feed, id: credentialID),
            issues: entries.filter { $0.kind == .issue }.map(IssueFact.init),
            changes: entries.filter { $0.kind.changesStatus }.map(StatusFact.init))
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
}
