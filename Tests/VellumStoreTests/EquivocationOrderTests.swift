@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumNode
import VellumStore
import VellumTestSupport

/// A key that signed two histories, gossiped beside a stranger's feed, in any batching and any
/// arrival order, with copies: whatever a replica holds of the forked feed, the fork is proven
/// and the feed set aside, and nothing of the stranger's entries is lost or takes effect on the
/// equivocator's credentials. `link` and `screen` look held entries up only at or below a
/// feed's head; this attacks that rule with every order a peer could choose.
@Suite("Equivocation in every arrival order, in process")
struct EquivocationOrderTests {
    static let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)

    static func payload(_ id: String, _ issuer: FeedKey) -> EntryPayload {
        .issue(
            IssuePayload(
                credentialID: id, digest: String(repeating: "ab", count: 32), issuer: issuer.didKey.did, achievementID: "urn:uuid:a",
                achievementName: "A", achievementType: "Badge", validFrom: "2026-01-01T00:00:00Z", validUntil: nil, statusListIndex: 0,
                subjectCommitment: String(repeating: "cd", count: 32)))
    }

    /// The same key's two histories: a common prefix of two issues, then three entries each.
    static func histories(_ key: Curve25519.Signing.PrivateKey) -> (a: [Entry], b: [Entry], credential: String) {
        let feed = FeedKey(Array(key.publicKey.rawRepresentation))!
        let prefix: [(EntryKind, EntryPayload)] = [(.issue, payload("urn:uuid:e-0", feed)), (.issue, payload("urn:uuid:e-1", feed))]
        func history(_ tag: String) -> [Entry] {
            var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
            return writer.append(prefix + (2..<5).map { (.issue, payload("urn:uuid:e-\(tag)-\($0)", feed)) }, now: now).map(\.entry)
        }
        return (history("a"), history("b"), "urn:uuid:e-0")
    }

    /// A stranger's feed: two issues of its own, and a revocation naming the equivocator's credential.
    static func stranger(naming credential: String) -> [Entry] {
        let key = Curve25519.Signing.PrivateKey()
        let feed = FeedKey(Array(key.publicKey.rawRepresentation))!
        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        return writer.append(
            [(.issue, payload("urn:uuid:s-0", feed)), (.issue, payload("urn:uuid:s-1", feed)),
             (.revoke, .status(.init(credentialID: credential, reason: "takeover")))], now: now
        ).map(\.entry)
    }

    /// Random contiguous chunks of a feed's entries, in seq order within each chunk.
    static func chunks(_ entries: [Entry], _ rng: inout SeededGenerator) -> [[Entry]] {
        var out: [[Entry]] = []
        var start = 0
        while start < entries.count {
            let end = min(entries.count, start + Int.random(in: 1...3, using: &rng))
            out.append(Array(entries[start..<end]))
            start = end
        }
        return out
    }

    @Test("a fork is proven and its feed set aside in every arrival order; the stranger's feed is stored whole and its revocation of another key's credential counts for nothing", arguments: propertySeeds)
    func everyOrder(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let key = Curve25519.Signing.PrivateKey()
        let (a, b, credential) = Self.histories(key)
        let feed = a[0].feed
        #expect(a[0] == b[0] && a[1] == b[1] && a[2] != b[2], "the histories share a prefix of two entries, then differ")
        let s = Self.stranger(naming: credential)
        for round in 0..<4 {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-equivocation-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let node = try Node.create(at: dir, name: "R", baseURL: "https://r.example")
            // Any interleaving of the chunks, some delivered twice; a chunk that does not follow
            // what is held is refused (as a peer's out-of-order batch would be), then gossip
            // delivers every feed whole at the end.
            var deliveries = Self.chunks(a, &rng) + Self.chunks(b, &rng) + Self.chunks(s, &rng)
            deliveries += (0..<Int.random(in: 0...3, using: &rng)).map { _ in deliveries.randomElement(using: &rng)! }
            deliveries.shuffle(using: &rng)
            for batch in deliveries + [a, b, s].shuffled(using: &rng) { _ = try? await node.importEntries(batch) }

            let context = "seed \(seed) round \(round)"
            #expect(try node.store.quarantinedFeeds() == [feed], "\(context): the forked feed is set aside, and only it")
            let forks = try node.store.forks()
            #expect(forks.count == 1, "\(context): one fork pair kept")
            if let (x, y, _) = forks.first {
                #expect(x.feed == feed && y.feed == feed && x.seq == y.seq && x.id != y.id && x.seq >= 3, "\(context)")
                #expect(Set([x.id, y.id]) == Set([a[Int(x.seq) - 1].id, b[Int(x.seq) - 1].id]), "\(context): the pair is the two histories at one seq")
            }
            // What is held of the forked feed is one unbroken history: a prefix of a or of b.
            let heads = try node.store.heads()
            let held = try node.store.entries(feed: feed, fromSeq: 1, limit: 10).map(\.id)
            #expect(held.count == Int(heads[feed]?.seq ?? 0), "\(context)")
            #expect(held == Array(a.prefix(held.count).map(\.id)) || held == Array(b.prefix(held.count).map(\.id)), "\(context): a mixed chain")
            // The stranger's feed arrives whole, whatever came before it.
            #expect(heads[s[0].feed]?.seq == UInt64(s.count), "\(context): the stranger's entries are all stored")
            #expect(try node.status(of: "urn:uuid:s-0", issuer: s[0].feed.didKey.did).status == .active, "\(context)")
            // Its revocation names the equivocator's credential, which only the equivocator's feed can change.
            #expect(try node.status(of: credential, issuer: feed.didKey.did).status == .active, "\(context): a stranger revoked another key's credential")
        }
    }
}
