/// The merge for one credential in a federation (Docs/FEDERATION.md): the issuing feed's
/// earliest issue stands, as everywhere; whether it counts, and which status changes count,
/// is the registry's authority at each entry's position:
/// - an issue written after its feed's compromise cut reads as revoked (`cutOff`);
/// - status changes count from every feed acting for the same organization at their own
///   position (a sibling campus may revoke, suspend or reinstate), none from any other;
/// - revoked is terminal; suspend/reinstate is last-writer-wins by (HLC, id).
public enum FederatedMerge {
    public struct Resolution: Sendable {
        public let resolution: CredentialResolution
        /// The authority of the issue entry: whether the credential is trusted, and why not.
        public let authority: FederationRegistry.Authority
    }

    /// `issues` are the issuing feed's issue facts of `key`; `changes` the status facts of
    /// every feed naming `key.id`. `heldID` answers which entry this replica holds at a
    /// (feed, seq), for compromise cuts that name the accepted entry.
    public static func resolve(
        _ key: CredentialKey, issues: [IssueFact], changes: [StatusFact], registry: FederationRegistry,
        heldID: (FeedKey, UInt64) -> EntryID? = { _, _ in nil }
    ) -> Resolution? {
        // The issue that stands is the earliest that counts: a cut-off key re-issuing an id with
        // a backdated clock must not displace the real issue. Only when none counts is the
        // earliest of all reported (as untrusted, or revoked by the cut). Each issue's authority
        // is judged once: it is most of the merge's work.
        let judged = issues.filter { $0.feed == key.feed }.map { f in (f, registry.authority(of: f.feed, seq: f.seq) { heldID(f.feed, $0) }) }
        let counting = judged.filter { $0.1.org != nil }
        guard let issue = CredentialMerge.issue(of: key, among: (counting.isEmpty ? judged : counting).map(\.0)) else { return nil }
        let authority = judged.first { $0.0 == issue }!.1  // `issue` is one of `judged`
        switch authority {
        case .member(let org, _):
            let counted = changes.filter { change in
                registry.authority(of: change.feed, seq: change.seq) { heldID(change.feed, $0) }.org == org
            }
            return Resolution(resolution: CredentialMerge.resolve(issue, authorized: counted), authority: authority)
        case .cutOff:
            return Resolution(resolution: CredentialResolution(base: .revoked, issue: issue, decidedBy: nil), authority: authority)
        case .untrusted:
            return Resolution(resolution: CredentialMerge.resolve(issue, authorized: changes.filter { $0.feed == key.feed }), authority: authority)
        }
    }
}
