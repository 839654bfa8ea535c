import VellumCore
import VellumStore

/// Status lists travel in the ledger: only the issuer can sign its lists, so the issuer's node
/// publishes a fresh signed list (a `status-list` entry) in the same transaction as every
/// status change, and the first (all clear) list when issuance opens a new list. Replicas
/// serve the newest list they hold, so a list URL resolves on any node of the federation.
extension LedgerQueries {
    /// The newest signed `BitstringStatusListCredential` this node holds for a list name: the
    /// issuer's own bytes (canonical JCS), as stored. The name names its issuer, and only that
    /// issuer's feed can hold an entry for it (`EntryVerifier`), so no other feed's list is served.
    public func publishedStatusList(named name: String) throws(VellumError) -> [UInt8]? {
        try store.latestStatusList(named: StatusListName(parsing: name).description)?.payload
    }

    /// This node's own list `number` for `purpose`, as last published.
    public func ownStatusList(purpose: String, number: Int) throws(VellumError) -> [UInt8]? {
        guard StatusListName.purposes.contains(purpose) else {
            throw VellumError(.invalidInput, "status purpose '\(purpose)' is not revocation or suspension")
        }
        guard number >= 0 else { throw VellumError(.invalidInput, "list number \(number) is negative") }
        return try publishedStatusList(named: StatusListName(issuer: did, purpose: purpose, number: number).description)
    }
}

extension Node {
    /// Appends a freshly signed list for each name to this node's feed. Call inside the
    /// transaction that changed the statuses, so the lists reflect them.
    func publish(_ lists: [StatusListName], with writer: inout FeedWriter, now: Timestamp) throws {
        let entries = try lists.map { name throws -> (EntryKind, EntryPayload) in
            (.statusList, .statusList(try StatusListPayload(json: try signedStatusList(name, now: now))))
        }
        try store.append(writer.append(entries, now: now))
    }

    /// The list as the materialized state says now, signed with the feed key (eddsa-jcs-2022).
    func signedStatusList(_ name: StatusListName, now: Timestamp) throws -> JSON {
        precondition(name.issuer == did, "a node signs only its own lists")
        let size = OpenBadges.statusListSize
        var indexes = Set(try store.statusListIndexes(feed: feed, status: name.status))
        // In a federation, sibling campuses change statuses too: those credentials read as the
        // federated merge says.
        if let registry = try registry() {
            for (key, index) in try store.credentialsChangedByOthers(feed: feed) where index / size == name.number {
                let resolution = try federatedStatus(of: key, at: nil, registry: registry).resolution
                if resolution?.base == name.status { indexes.insert(index) } else { indexes.remove(index) }
            }
        }
        var list = BitstringStatusList(size: size)
        for index in indexes where index / size == name.number { list.set(index % size) }
        let url = OpenBadges.statusListURL(base: baseURL, issuer: did, purpose: name.purpose, index: name.number * size)
        let unsigned = BitstringStatusList.credential(
            url: url, purpose: name.purpose, encodedList: try Gzip.encodedList(list), issuer: did, validFrom: now)
        return try DataIntegrity.sign(unsigned, options: .init(verificationMethod: did.verificationMethod, created: now.rfc3339), with: key)
    }

    /// The lists a change of one credential's status alters: a revocation also clears a
    /// suspension bit.
    func listsChanged(by kind: EntryKind, statusListIndex index: Int, wasSuspended: Bool) -> [StatusListName] {
        let number = index / OpenBadges.statusListSize
        var purposes: [String] = []
        if kind == .revoke { purposes.append("revocation") }
        if kind != .revoke || wasSuspended { purposes.append("suspension") }
        return purposes.map { StatusListName(issuer: did, purpose: $0, number: number) }
    }

    /// After an import in a federation: the lists of this node's credentials whose status a
    /// sibling campus changed in `entries`, published afresh (the issuing campus signs its
    /// lists; until it is back online, the ledger answer is the exact one).
    func republishListsChanged(bySiblings entries: [LinkedEntry]) throws {
        guard federationID != nil else { return }
        var numbers: Set<Int> = []
        for e in entries where e.kind.changesStatus && e.feed != feed {
            if let (record, _) = try store.record(of: CredentialKey(feed: feed, id: e.credentialID)) {
                numbers.insert(record.payload.statusListIndex / OpenBadges.statusListSize)
            }
        }
        guard !numbers.isEmpty else { return }
        let lists = numbers.sorted().flatMap { n in StatusListName.purposes.map { StatusListName(issuer: did, purpose: $0, number: n) } }
        try appendToOwnFeed { writer, now in try publish(lists, with: &writer, now: now) }
    }

    /// Both purposes' lists that issuance opened when it took the status-list indexes
    /// `from..<to`: those holding any of them but none before `from`.
    func newLists(from: Int, to: Int) -> [StatusListName] {
        let size = OpenBadges.statusListSize
        let (first, end) = ((from + size - 1) / size, (to + size - 1) / size)
        return (first..<max(first, end)).flatMap { n in StatusListName.purposes.map { StatusListName(issuer: did, purpose: $0, number: n) } }
    }
}
