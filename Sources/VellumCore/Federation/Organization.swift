@preconcurrency import Crypto

/// An organization as its key event log says, a pure function of the set of its events a
/// replica holds (in any order, with any duplicates):
/// - the log starts at the inception whose digest is the organization's id;
/// - each next event links by `prev` and is signed by the key in force (a rotation by a new
///   key that hashes to the previous commitment);
/// - where the log branches (two valid events at one seq: the key holder signed two
///   histories, or a thief used a key), the branch holding more rotations wins: only the
///   holder of the pre-committed next key can rotate. With no such branch, the log stops
///   before the fork (`duplicity`) until the organization rotates on one branch.
public struct Organization: Sendable {
    public let id: String
    public let name: String
    /// The key in force at the head of the log, and the commitment to the next one.
    public let key: DIDKey
    public let next: Bytes32
    /// The accepted log, seq 0 upward.
    public let events: [OrgEvent]
    /// The seq where two branches neither of which wins were found, if any.
    public let duplicity: UInt64?

    /// Each feed's latest delegation on the accepted log, by feed.
    public let delegations: [FeedKey: (event: OrgEvent, delegation: Delegation)]
    /// Each feed's undelegations, in log order.
    public let undelegations: [FeedKey: [(event: OrgEvent, undelegation: Undelegation)]]
    let accepted: Set<Bytes32>
    let endorsed: [Bytes32: OrgEvent]

    /// Whether the accepted log holds `event` (by digest).
    public func holds(_ event: Bytes32) -> Bool { accepted.contains(event) }

    /// The endorsement of a federation document, if the accepted log holds one.
    public func endorsement(of digest: Bytes32) -> OrgEvent? { endorsed[digest] }

    /// The last seq of `feed` that counts, if an undelegation cut it; and the event that did.
    public func cut(of feed: FeedKey) -> (seq: UInt64, entry: EntryID?, event: OrgEvent, reason: Undelegation.Reason)? {
        var best: (UInt64, EntryID?, OrgEvent, Undelegation.Reason)?
        for (event, u) in undelegations[feed] ?? [] {
            guard let cut = u.cut else { continue }
            if best.map({ cut < $0.0 }) ?? true { best = (cut, u.entry, event, u.reason) }
        }
        return best
    }

    /// The public record: the accepted log, as `org.json` and published documents carry it.
    public var record: FederationDocument { .organization(events) }

    /// Resolves organization `id` from a pool of events (of any organizations). Nil when the
    /// pool holds no valid inception for it.
    public static func resolve(_ id: String, from pool: [OrgEvent]) -> Organization? {
        var inception: OrgEvent?
        var children: [Bytes32: [OrgEvent]] = [:]
        // Copies of one event are told apart by their proofs: a copy with a forged proof must
        // not hide the genuine one (the signature check below keeps only copies that verify).
        var seen: Set<[UInt8]> = []
        for e in pool where e.org == id {
            guard seen.insert(e.digest.bytes + e.proof).inserted else { continue }
            if case .inception(_, let key, _) = e.body {
                if e.isSigned(by: key) { inception = e }
            } else if let prev = e.prev {
                children[prev, default: []].append(e)
            }
        }
        guard let inception, case .inception(let name, let key, let next) = inception.body else { return nil }

        struct Branch {
            var path: [OrgEvent]
            var rotations: Int
            var duplicity: UInt64?
        }
        var memo: [Bytes32: Branch] = [:]
        // Iterative post-order walk (a log can be long; no recursion depth to exhaust).
        struct Frame {
            let event: OrgEvent
            let key: DIDKey
            let next: Bytes32
            var kids: [(OrgEvent, DIDKey, Bytes32)]?
        }
        func validChildren(of e: OrgEvent, key: DIDKey, next: Bytes32) -> [(OrgEvent, DIDKey, Bytes32)] {
            var out: [(OrgEvent, DIDKey, Bytes32)] = []
            let candidates = (children[e.digest] ?? []).sorted { $0.digest != $1.digest ? $0.digest < $1.digest : $0.proof.lexicographicallyPrecedes($1.proof) }
            for c in candidates where c.seq == e.seq + 1 && !out.contains(where: { $0.0.digest == c.digest }) {
                switch c.body {
                case .rotation(let newKey, let newNext):
                    guard Bytes32(Array(SHA256.hash(data: newKey.publicKey))) == next, c.isSigned(by: newKey) else { continue }
                    out.append((c, newKey, newNext))
                case .inception:
                    continue
                default:
                    guard c.isSigned(by: key) else { continue }
                    out.append((c, key, next))
                }
            }
            return out
        }
        var stack = [Frame(event: inception, key: key, next: next, kids: nil)]
        while var top = stack.popLast() {
            if top.kids == nil {
                top.kids = validChildren(of: top.event, key: top.key, next: top.next)
                stack.append(top)
                for (c, k, n) in top.kids! where memo[c.digest] == nil { stack.append(Frame(event: c, key: k, next: n, kids: nil)) }
                continue
            }
            let own = top.event.isRotation ? 1 : 0
            let branches = top.kids!.compactMap { memo[$0.0.digest] }
            let best = branches.map(\.rotations).max()
            let winners = branches.filter { $0.rotations == best }
            if winners.count == 1, let w = winners.first {
                memo[top.event.digest] = Branch(path: [top.event] + w.path, rotations: w.rotations + own, duplicity: w.duplicity)
            } else {
                memo[top.event.digest] = Branch(
                    path: [top.event], rotations: (best ?? 0) + own, duplicity: branches.isEmpty ? nil : top.event.seq + 1)
            }
        }
        return Organization(id: id, name: name, chain: memo[inception.digest]!.path, duplicity: memo[inception.digest]!.duplicity)
    }

    init(id: String, name: String, chain: [OrgEvent], duplicity: UInt64?) {
        self.id = id
        self.name = name
        self.events = chain
        self.duplicity = duplicity
        var key: DIDKey?
        var next = Bytes32.zero
        var delegations: [FeedKey: (OrgEvent, Delegation)] = [:]
        var undelegations: [FeedKey: [(OrgEvent, Undelegation)]] = [:]
        var endorsed: [Bytes32: OrgEvent] = [:]
        for e in chain {
            switch e.body {
            case .inception(_, let k, let n), .rotation(let k, let n):
                key = k
                next = n
            case .delegation(let d): delegations[d.feed] = (e, d)
            case .undelegation(let u): undelegations[u.feed, default: []].append((e, u))
            case .endorsement(let digest): endorsed[digest] = endorsed[digest] ?? e
            }
        }
        self.key = key!
        self.next = next
        self.delegations = delegations
        self.undelegations = undelegations
        self.endorsed = endorsed
        accepted = Set(chain.map(\.digest))
    }
}

extension OrgEvent {
    var isRotation: Bool {
        if case .rotation = body { return true }
        return false
    }
}
