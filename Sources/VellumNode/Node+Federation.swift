import VellumCore
import VellumStore

/// A node's part in its federation: joining it at creation, publishing signed documents, and
/// the authority its own feed holds.
extension Node {
    /// Checks a genesis document for `vellum init --federation`: every founder must have
    /// endorsed it. Returns the federation's id.
    static func federationID(ofGenesis document: FederationDocument) throws(VellumError) -> String {
        guard case .genesis(let genesis, _) = document else {
            throw VellumError(.invalidInput, "--federation needs a federation genesis document, not a \(document.typeName)")
        }
        let id = genesis.federationID
        let registry = FederationRegistry(
            federationID: id, documents: [PublishedDocument(document: document, feed: .zero, seq: 1, entry: .zero)])
        guard registry.genesis != nil else {
            throw VellumError(.unauthorized, "the genesis of \(genesis.name) is incomplete: \(registry.notes.joined(separator: "; ")) (vellum federation sign FILE --org DIR)")
        }
        return id
    }

    /// Appends a signed organization or federation document to this node's feed, after checking
    /// it against this node's federation: every organization event must be valid in its log (a
    /// document signed with a rotated-out key after the rotation is refused), a genesis or
    /// proposal must be of this federation, and a proposal must apply now (current version,
    /// K signatures of current members). Refuses with a one-line reason and changes nothing.
    @discardableResult
    public func publish(_ document: FederationDocument) throws -> LinkedEntry {
        let registry = try requireRegistry()
        switch document {
        case .genesis(let g, _) where g.federationID != registry.federationID:
            throw VellumError(.unauthorized, "that genesis founds \(g.name) (\(g.federationID)); this node is in \(registry.name) (\(registry.federationID))")
        case .proposal(let p, _) where p.federation != registry.federationID:
            throw VellumError(.unauthorized, "that proposal is for federation \(p.federation); this node is in \(registry.name) (\(registry.federationID))")
        default:
            break
        }
        let payload = EntryPayload.document(document)
        let size = payload.canonicalBytes.count
        guard size <= UnsignedEntry.maximumPayloadSize else {
            throw VellumError(.invalidInput, "the document is \(size) bytes, more than an entry holds (\(UnsignedEntry.maximumPayloadSize))")
        }
        return try appendToOwnFeed { writer, now in
            let next = (writer.head?.seq ?? 0) + 1
            let after = FederationRegistry(
                federationID: registry.federationID,
                documents: try store.documents() + [PublishedDocument(document: document, feed: feed, seq: next, entry: .zero)])
            for e in document.events where after.organizations[e.org]?.holds(e.digest) != true {
                throw VellumError(
                    .unauthorized,
                    "event seq \(e.seq) of \(e.org) is not valid in its organization's log (not signed by the key in force at that position, not linked to the log, or on a losing branch)")
            }
            if case .proposal(let p, _) = document { try Node.checkApplies(p, before: registry, after: after) }
            let entries = writer.append([(.document, payload)], now: now)
            try store.append(entries)
            return entries[0]
        }
    }

    /// Why a proposal would not be applied, if it would not.
    static func checkApplies(_ p: Proposal, before: FederationRegistry, after: FederationRegistry) throws(VellumError) {
        guard p.version == before.version.id else {
            throw VellumError(
                .conflict,
                "the proposal was signed against another membership version than the current one (\(before.version.number), \(before.version.id.hex.prefix(16))…): make and sign it again")
        }
        let signers = before.members.keys.filter { after.organizations[$0]?.endorsement(of: p.digest) != nil }.count
        guard signers >= before.threshold else {
            let missing = before.threshold - signers
            throw VellumError(
                .unauthorized,
                "the proposal has \(signers) of the \(before.threshold) signatures of current members it needs: \(missing) missing")
        }
        switch p.action {
        case .admit where before.members[p.org] != nil: throw VellumError(.conflict, "\(p.org) is already a member")
        case .admit where after.organizations[p.org] == nil: throw VellumError(.invalidInput, "the proposal does not carry the log of \(p.org)")
        case .remove where before.members[p.org] == nil: throw VellumError(.conflict, "\(p.org) is not a member")
        case .remove where before.members.count - 1 < before.threshold:
            throw VellumError(.conflict, "removing \(p.org) would leave fewer members than the threshold (\(before.threshold))")
        default: break
        }
    }

    /// The organization this node issues for, checked before it issues: in a federation, its
    /// feed must hold a delegation of a current member at its next entry, not cut off and not
    /// past its `until` by this node's clock. Nil outside a federation.
    func issuingOrganization() throws -> (id: String, name: String)? {
        guard let registry = try registry() else { return nil }
        let next = (try store.heads()[feed]?.seq ?? 0) + 1
        let authority = registry.authority(of: feed, seq: next) { heldID(feed, $0) }
        guard let orgID = authority.org, let org = registry.organizations[orgID] else {
            throw VellumError(
                .unauthorized,
                "this node may not issue in \(registry.name): \(authority.reason ?? "") (get a delegation: vellum org delegate on the registrar's side, then vellum publish FILE here)")
        }
        if let (_, u) = org.undelegations[feed]?.last {
            throw VellumError(.unauthorized, "\(org.name) ended this node's delegation (\(u.reason.rawValue))")
        }
        if let until = org.delegations[feed]?.delegation.until, clock() > until {
            throw VellumError(.unauthorized, "this node's delegation from \(org.name) ended at \(until.rfc3339)")
        }
        return (org.id, org.name)
    }
}
