@preconcurrency import Crypto

/// A federation document as a replica holds it: published in a feed, at a position.
public struct PublishedDocument: Sendable, Hashable {
    public let document: FederationDocument
    public let feed: FeedKey
    public let seq: UInt64
    public let entry: EntryID

    public init(document: FederationDocument, feed: FeedKey, seq: UInt64, entry: EntryID) {
        self.document = document
        self.feed = feed
        self.seq = seq
        self.entry = entry
    }
}

/// A membership version: genesis is 0; each applied proposal makes the next, whose id chains
/// the previous id and the proposal's digest, so a proposal names exactly the membership its
/// signers saw.
public struct MembershipVersion: Sendable, Hashable {
    public let number: Int
    public let id: Bytes32

    func next(_ proposal: Bytes32) -> MembershipVersion {
        MembershipVersion(number: number + 1, id: Bytes32(Array(SHA256.hash(data: id.bytes + proposal.bytes)))!)
    }
}

/// Who may do what in one federation: a pure function of the federation's id and the set of
/// federation documents a replica holds (with where each was published). Any arrival order,
/// any duplicates: the same registry.
///
/// - Membership: the founders of the genesis (when every founder's log endorses it), then
///   proposals in version order: at each version, the proposals against it that K members
///   endorse and that apply (admit a non-member, remove a member without leaving fewer than K);
///   the one with the smallest digest is applied. Others must be re-signed against the new
///   version.
/// - Authority of a feed's entry at seq s: the latest delegation the feed published in its own
///   feed before s (a delegation takes effect only once its campus has accepted it, so no member
///   can claim another's campus), on the accepted log of an organization that is a current
///   member, and not cut by an undelegation.
public struct FederationRegistry: Sendable {
    public let federationID: String
    public let genesis: Genesis?
    public let version: MembershipVersion
    public let members: [String: Member]
    public let organizations: [String: Organization]
    /// What was not applied and why (a proposal short of signatures, a genesis not yet endorsed).
    public let notes: [String]
    let genesisEntry: EntryID?
    let acceptances: [FeedKey: [Acceptance]]
    /// The first entry carrying each event, by digest and proof (a copy with a forged proof is
    /// another key).
    let firstPublication: [[UInt8]: EntryID]
    /// How many published documents it was built from. A ledger's documents are only ever
    /// appended, so between two registries built from all of one ledger's committed documents,
    /// an equal count means the same registry (`RegistryCache`); not so for one built with
    /// other documents too (a file's, before it is imported).
    public let documentCount: Int

    public struct Member: Sendable, Hashable {
        public let id: String
        /// The membership version that admitted it (0: a founder).
        public let since: Int
        /// The entry that published its admission (the genesis entry for a founder).
        public let admittedBy: EntryID?
    }

    struct Acceptance: Sendable {
        let seq: UInt64
        let entry: EntryID
        let org: String
        let event: Bytes32
    }

    public var name: String { genesis?.name ?? "" }
    public var threshold: Int { genesis?.threshold ?? 0 }

    public init(federationID: String, documents: [PublishedDocument]) {
        self.federationID = federationID
        documentCount = documents.count
        let documents = documents.sorted { $0.entry < $1.entry }
        var pool: [String: [OrgEvent]] = [:]
        var firstPublication: [[UInt8]: EntryID] = [:]
        var notes: [String] = []
        var genesis: Genesis?
        var genesisEntry: EntryID?
        var proposals: [Bytes32: (Proposal, EntryID)] = [:]
        var acceptances: [FeedKey: [Acceptance]] = [:]
        for d in documents {
            switch d.document {
            case .genesis(let g, _) where g.federationID == federationID:
                if genesis == nil { (genesis, genesisEntry) = (g, d.entry) }
            case .proposal(let p, _) where p.federation == federationID:
                if proposals[p.digest] == nil { proposals[p.digest] = (p, d.entry) }
            default:
                break
            }
            for e in d.document.events {
                pool[e.org, default: []].append(e)
                if firstPublication[e.digest.bytes + e.proof] == nil { firstPublication[e.digest.bytes + e.proof] = d.entry }
                guard case .delegation(let del) = e.body, del.feed == d.feed else { continue }
                acceptances[d.feed, default: []].append(Acceptance(seq: d.seq, entry: d.entry, org: e.org, event: e.digest))
            }
        }
        for (feed, list) in acceptances { acceptances[feed] = list.sorted { ($0.seq, $0.event) < ($1.seq, $1.event) } }
        self.acceptances = acceptances
        self.firstPublication = firstPublication
        // Only organizations something refers to are resolved (founders, proposals' subjects,
        // those whose delegations a campus accepted): a feed that publishes logs of made-up
        // organizations costs their parsing, not their signature checks.
        var referenced = Set(genesis?.founders ?? [])
        for (p, _) in proposals.values { referenced.insert(p.org) }
        for list in acceptances.values { for a in list { referenced.insert(a.org) } }
        var organizations: [String: Organization] = [:]
        for id in referenced {
            if let events = pool[id], let org = Organization.resolve(id, from: events) { organizations[id] = org }
        }
        self.organizations = organizations

        var members: [String: Member] = [:]
        var version = MembershipVersion(number: 0, id: genesis?.digest ?? .zero)
        if let g = genesis {
            let unsigned = g.founders.filter { organizations[$0]?.endorsement(of: g.digest) == nil }
            if unsigned.isEmpty {
                for f in g.founders { members[f] = Member(id: f, since: 0, admittedBy: genesisEntry) }
            } else {
                notes.append("the genesis is not endorsed by founders \(unsigned.joined(separator: ", ")) in any log this replica holds")
                genesis = nil
            }
        }
        while let g = genesis {
            var applicable: [(Proposal, EntryID)] = []
            for (p, entry) in proposals.values where p.version == version.id {
                let signers = members.keys.filter { organizations[$0]?.endorsement(of: p.digest) != nil }.count
                guard signers >= g.threshold else { continue }
                switch p.action {
                case .admit where members[p.org] == nil && organizations[p.org] != nil: applicable.append((p, entry))
                case .remove where members[p.org] != nil && members.count - 1 >= g.threshold: applicable.append((p, entry))
                default: continue
                }
            }
            guard let (p, entry) = applicable.min(by: { $0.0.digest < $1.0.digest }) else { break }
            version = version.next(p.digest)
            switch p.action {
            case .admit: members[p.org] = Member(id: p.org, since: version.number, admittedBy: entry)
            case .remove: members[p.org] = nil
            }
        }
        self.genesis = genesis
        self.genesisEntry = genesisEntry
        self.members = members
        self.version = version
        self.notes = notes
    }

    // MARK: authority

    /// Whether an entry counts, and for which organization.
    public enum Authority: Sendable, Hashable {
        /// Counts for `org`, under the delegation the feed accepted in `accepted`.
        case member(org: String, accepted: EntryID)
        /// Written after its feed was cut off (or forking the accepted history): counts for
        /// nothing, ever; a credential it issued reads as revoked, for `reason`.
        case cutOff(org: String, reason: String)
        /// Counts for nothing (yet): the reason names what is missing.
        case untrusted(String)

        public var org: String? {
            if case .member(let org, _) = self { return org }
            return nil
        }

        /// Why it does not count; nil when it does.
        public var reason: String? {
            switch self {
            case .member: nil
            case .cutOff(_, let r), .untrusted(let r): r
            }
        }
    }

    /// The authority of `feed`'s entry at `seq`. `heldID` tells which entry this replica holds
    /// at a seq of the feed (for a compromise cut naming the accepted entry at S).
    public func authority(of feed: FeedKey, seq: UInt64, heldID: (UInt64) -> EntryID? = { _ in nil }) -> Authority {
        guard genesis != nil else { return .untrusted("this replica does not hold the federation's endorsed genesis yet") }
        guard let acceptance = acceptances[feed]?.last(where: { $0.seq < seq }) else {
            return .untrusted("\(feed.didKey.did) had published no delegation of a member before seq \(seq)")
        }
        guard let org = organizations[acceptance.org], org.holds(acceptance.event) else {
            return .untrusted("the delegation \(feed.didKey.did) accepted is not on the log of \(acceptance.org) this replica holds")
        }
        guard members[org.id] != nil else {
            return .untrusted("\(org.name) (\(org.id)) is not a member of \(name) at membership version \(version.number)")
        }
        if let cut = org.cut(of: feed) {
            let what = cut.reason == .compromised ? "cut off as compromised" : "undelegated"
            if seq > cut.seq {
                return .cutOff(org: org.id, reason: "\(feed.didKey.did) was \(what) by \(org.name) through seq \(cut.seq); this entry is seq \(seq)")
            }
            if let e = cut.entry, let held = heldID(cut.seq), held != e {
                return .cutOff(org: org.id, reason: "\(feed.didKey.did) was \(what) by \(org.name) through entry \(e) at seq \(cut.seq); this replica holds a fork of it (\(held))")
            }
        }
        return .member(org: org.id, accepted: acceptance.entry)
    }

    /// The organization a feed acts for now (at its next entry), and the delegation it holds.
    public func delegation(of feed: FeedKey) -> (org: Organization, delegation: Delegation)? {
        guard let a = acceptances[feed]?.last, let org = organizations[a.org], org.holds(a.event),
            let d = org.delegations[feed]
        else { return nil }
        return (org, d.delegation)
    }

    /// The entries that prove a path: the genesis, the organization's admission, the delegation
    /// accepted, and the undelegation that cut the feed, if any.
    public func evidence(for authority: Authority, feed: FeedKey) -> [EntryID] {
        var out: [EntryID] = []
        if let genesisEntry { out.append(genesisEntry) }
        let orgID = authority.org ?? acceptances[feed]?.last?.org
        if let orgID, let m = members[orgID], m.since > 0, let e = m.admittedBy { out.append(e) }
        if case .member(_, let accepted) = authority { out.append(accepted) }
        if let orgID, let org = organizations[orgID], let cut = org.cut(of: feed), let e = firstPublication[cut.event.digest.bytes + cut.event.proof] { out.append(e) }
        var seen: Set<EntryID> = []
        return out.filter { seen.insert($0).inserted }
    }

    /// The entries that prove an organization's membership: the genesis and its admission.
    public func evidence(ofMember org: String) -> [EntryID] {
        var out: [EntryID] = []
        if let genesisEntry { out.append(genesisEntry) }
        if let m = members[org], m.since > 0, let e = m.admittedBy { out.append(e) }
        return out
    }

    /// Every delegated feed of every current member, with its delegation (the CURVE allow-list
    /// and the peers to gossip with), except feeds an undelegation ended.
    public var delegatedFeeds: [(org: String, delegation: Delegation)] {
        var out: [(String, Delegation)] = []
        for id in members.keys.sorted() {
            guard let org = organizations[id] else { continue }
            for (feed, d) in org.delegations.sorted(by: { $0.key < $1.key }) where org.undelegations[feed] == nil {
                out.append((id, d.delegation))
            }
        }
        return out
    }
}
