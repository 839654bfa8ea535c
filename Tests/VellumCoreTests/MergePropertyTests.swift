@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumTestSupport

/// A random history, with attackers: a few honest feeds (each its own issuer) issuing
/// credentials and changing the status of their own, of each other's and of unknown ids, and
/// up to two stranger feeds that re-issue honest credential ids (stamped earlier than the
/// honest issue, as a takeover would be) and revoke, suspend and reinstate them. Wall clocks
/// jump around and collide. `honest` tells which feeds are honest.
struct History {
    var entries: [VerifiedEntry] = []
    var honest: Set<FeedKey> = []

    var honestEntries: [VerifiedEntry] { entries.filter { honest.contains($0.feed) } }
}

func randomHistory(seed: UInt64) -> History {
    var rng = SeededGenerator(seed: seed)
    func writer() -> FeedWriter {
        let seedBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return FeedWriter(key: try! Curve25519.Signing.PrivateKey(rawRepresentation: seedBytes), head: nil, clock: HLC(rawValue: 0))
    }
    let feedCount = Int.random(in: 1...3, using: &rng)
    var writers = (0..<feedCount).map { _ in writer() }
    var strangers = (0..<Int.random(in: 0...2, using: &rng)).map { _ in writer() }
    var history = History(honest: Set(writers.map(\.feed)))
    var credentials: [String] = []
    for _ in 0..<Int.random(in: 5...40, using: &rng) {
        let now = Timestamp(millisecondsSinceEpoch: Int64.random(in: 1_000...1_020, using: &rng))
        let kind = [EntryKind.revoke, .suspend, .suspend, .reinstate, .reinstate].randomElement(using: &rng)!
        if !strangers.isEmpty, !credentials.isEmpty, Int.random(in: 0..<4, using: &rng) == 0 {
            // An attack on an honest credential id: an earlier issue, or a status change.
            let s = Int.random(in: 0..<strangers.count, using: &rng)
            let target = credentials.randomElement(using: &rng)!
            let early = Timestamp(millisecondsSinceEpoch: 1)
            let entry: LinkedEntry =
                Bool.random(using: &rng)
                ? strangers[s].append([(.issue, .issue(samplePayload(target, issuer: strangers[s].feed.didKey.did)))], now: early)[0]
                : strangers[s].append([(kind, .status(StatusPayload(credentialID: target)))], now: now)[0]
            history.entries.append(entry.verified)
            continue
        }
        let w = Int.random(in: 0..<feedCount, using: &rng)
        if credentials.isEmpty || Int.random(in: 0..<3, using: &rng) == 0 {
            let id = "urn:uuid:\(UUID(uuid: (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }.withUnsafeBytes { $0.load(as: uuid_t.self) }))".lowercased()
            let payload = samplePayload(
                id, issuer: writers[w].feed.didKey.did, validUntil: Bool.random(using: &rng) ? "2026-06-01T00:00:00Z" : nil,
                statusListIndex: credentials.count)
            history.entries += writers[w].append([(.issue, .issue(payload))], now: now).map(\.verified)
            credentials.append(id)
        } else {
            let target = Int.random(in: 0..<6, using: &rng) == 0 ? "urn:uuid:unknown-\(Int.random(in: 0..<3, using: &rng))" : credentials.randomElement(using: &rng)!
            history.entries += writers[w].append([(kind, .status(StatusPayload(credentialID: target)))], now: now).map(\.verified)
        }
    }
    return history
}

@Suite("CRDT merge properties")
struct MergePropertyTests {
    @Test("any permutation with duplicates gives one state root", arguments: propertySeeds)
    func permutations(seed: UInt64) {
        let entries = randomHistory(seed: seed).entries
        let root = LedgerState(entries).stateRoot
        var rng = SeededGenerator(seed: seed ^ 0xABCDEF)
        for round in 0..<50 {
            var shuffled = entries.shuffled(using: &rng)
            shuffled += (0..<Int.random(in: 0...10, using: &rng)).map { _ in entries.randomElement(using: &rng)! }
            shuffled.shuffle(using: &rng)
            #expect(LedgerState(shuffled).stateRoot == root, "seed \(seed) round \(round)")
        }
    }

    @Test("every permutation of a small history gives one state root", arguments: propertySeeds)
    func allPermutations(seed: UInt64) {
        let entries = Array(randomHistory(seed: seed).entries.prefix(6))
        let root = LedgerState(entries).stateRoot
        var count = 0
        func permute(_ prefix: [VerifiedEntry], _ rest: [VerifiedEntry]) {
            if rest.isEmpty {
                count += 1
                // Each permutation, also with its first entry delivered twice.
                #expect(LedgerState(prefix).stateRoot == root, "seed \(seed)")
                #expect(LedgerState(prefix + prefix.prefix(1)).stateRoot == root, "seed \(seed)")
                return
            }
            for i in rest.indices {
                var remaining = rest
                let next = remaining.remove(at: i)
                permute(prefix + [next], remaining)
            }
        }
        permute([], entries)
        #expect(count == (1...entries.count).reduce(1, *))
    }

    @Test("random partitions merged by union converge", arguments: propertySeeds)
    func partitions(seed: UInt64) {
        let entries = randomHistory(seed: seed).entries
        let root = LedgerState(entries).stateRoot
        var rng = SeededGenerator(seed: seed ^ 0x5EED)
        for round in 0..<30 {
            let parts = Int.random(in: 2...4, using: &rng)
            var replicas = Array(repeating: LedgerState(), count: parts)
            for e in entries {
                // Every entry reaches at least one replica, some reach several.
                replicas[Int.random(in: 0..<parts, using: &rng)].apply(e)
                if Bool.random(using: &rng) { replicas[Int.random(in: 0..<parts, using: &rng)].apply(e) }
            }
            // Gossip: each replica merges every other one's entries, in random order.
            var merged = replicas
            for i in 0..<parts {
                for j in (0..<parts).shuffled(using: &rng) where j != i {
                    for e in entries.shuffled(using: &rng) where replicas[j].entryIDs.contains(e.id) { merged[i].apply(e) }
                }
            }
            for m in merged { #expect(m.stateRoot == root, "seed \(seed) round \(round)") }
        }
    }

    @Test("the merge matches a replay of the issuer's own history", arguments: propertySeeds)
    func reference(seed: UInt64) {
        let entries = randomHistory(seed: seed).entries
        let state = LedgerState(entries)
        for (key, resolution) in state.credentials {
            let ofFeed = entries.filter { $0.feed == key.feed && $0.credentialID == key.id }
            let issue = ofFeed.filter { $0.kind == .issue }.min { ($0.hlc, $0.id) < ($1.hlc, $1.id) }!
            // Replay the issuer's status changes in HLC order: revoke sticks, the last suspend/reinstate wins.
            var status = CredentialStatus.active
            for e in ofFeed.filter({ $0.kind != .issue }).sorted(by: { ($0.hlc, $0.id) < ($1.hlc, $1.id) }) {
                if status == .revoked { break }
                status = e.kind == .revoke ? .revoked : e.kind == .suspend ? .suspended : .active
            }
            #expect(resolution.base == status, "seed \(seed) credential \(key)")
            #expect(resolution.issue?.entry == issue.id)
            // A change from another feed never has any effect.
            if let decided = resolution.decidedBy { #expect(entries.first { $0.id == decided }!.feed == key.feed) }
        }
    }

    @Test("strangers' entries change nothing of an honest issuer's credentials, in any arrival order", arguments: propertySeeds)
    func adversarial(seed: UInt64) {
        let history = randomHistory(seed: seed)
        let honest = LedgerState(history.honestEntries)
        var rng = SeededGenerator(seed: seed ^ 0xBAD)
        for round in 0..<30 {
            // Any arrival order: the attack first, last, or interleaved.
            var order = history.entries.shuffled(using: &rng)
            if round % 3 == 0 { order.sort { !history.honest.contains($0.feed) && history.honest.contains($1.feed) } }
            let state = LedgerState(order)
            for (key, resolution) in honest.credentials {
                #expect(state.resolution(of: key) == resolution, "seed \(seed) round \(round): \(key)")
            }
            #expect(state.stateRoot == LedgerState(history.entries).stateRoot, "seed \(seed) round \(round)")
        }
    }

    @Test("a stranger's earlier issue of a revoked credential's id cannot un-revoke it")
    func takeover() {
        var issuer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        var stranger = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let id = "urn:uuid:0193a000-0000-7000-8000-000000000001"
        let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)
        let genuine = issuer.append([(.issue, .issue(samplePayload(id, issuer: issuer.feed.didKey.did)))], now: now)[0]
        let revoke = issuer.append([(.revoke, .status(StatusPayload(credentialID: id)))], now: now)[0]
        let forged = stranger.append([(.issue, .issue(samplePayload(id, issuer: stranger.feed.didKey.did)))], now: Timestamp(millisecondsSinceEpoch: 1))[0]
        let reinstate = stranger.append([(.reinstate, .status(StatusPayload(credentialID: id)))], now: now)[0]
        for order in [[forged, reinstate, genuine, revoke], [genuine, revoke, forged, reinstate], [reinstate, revoke, forged, genuine]] {
            let state = LedgerState(order.map(\.verified))
            let r = state.resolution(of: CredentialKey(feed: issuer.feed, id: id))
            #expect(r.base == .revoked && r.issue?.entry == genuine.id && r.decidedBy == revoke.id)
            // The stranger's entries make a credential of its own, reported for auditors.
            #expect(state.resolution(of: CredentialKey(feed: stranger.feed, id: id)).issue?.entry == forged.id)
            #expect(state.ignoredEntries() == state.ignoredEntries().filter { $0.contains("issued by 2 feeds") } && state.ignoredEntries().count == 1)
        }
        // Without its own issue, the stranger's status change counts for nothing, and is reported.
        let alone = LedgerState([genuine, revoke, reinstate].map(\.verified))
        #expect(alone.ignoredEntries().count == 1 && alone.ignoredEntries()[0].contains("never issued it"))
        // However many, the notes stay readable: 50 lines and a count.
        var flood = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let changes = (0..<120).map { (EntryKind.revoke, EntryPayload.status(StatusPayload(credentialID: "urn:uuid:x-\($0)"))) }
        let flooded = LedgerState(flood.append(changes, now: now).map(\.verified))
        #expect(flooded.ignoredEntries().count == 51 && flooded.ignoredEntries().last == "and 70 more")
    }

    @Test("a status entry that arrives before its issue takes effect when the issue arrives")
    func statusBeforeIssue() {
        var writer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let payload = samplePayload("urn:uuid:1", issuer: writer.feed.didKey.did, validUntil: "2026-06-01T00:00:00Z")
        let now = Timestamp(millisecondsSinceEpoch: 5_000)
        let issue = writer.append([(.issue, .issue(payload))], now: now)[0].verified
        let suspend = writer.append([(.suspend, .status(StatusPayload(credentialID: "urn:uuid:1")))], now: now)[0].verified
        let key = CredentialKey(feed: writer.feed, id: "urn:uuid:1")
        var state = LedgerState()
        state.apply(suspend)
        #expect(state.resolution(of: key).base == .unknown)
        state.apply(issue)
        let r = state.resolution(of: key)
        #expect(r.base == .suspended && r.decidedBy == suspend.id)
        // Expiry is judged at query time; revocation would outrank it.
        #expect(r.status(at: Timestamp(parsing: "2026-03-01T00:00:00Z")!) == .suspended)
        #expect(r.status(at: Timestamp(parsing: "2026-07-01T00:00:00Z")!) == .expired)
    }

    @Test("HLC orders causally even when the wall clock goes backwards")
    func hlc() {
        var clock = HLC(rawValue: 0)
        var previous = clock
        for wall in [1000, 1000, 999, 2000, 1500] as [Int64] {
            clock = clock.tick(now: Timestamp(millisecondsSinceEpoch: wall))
            #expect(clock > previous)
            previous = clock
        }
        let remote = HLC(milliseconds: 10_000, counter: 3)
        let received = clock.receive(remote, now: Timestamp(millisecondsSinceEpoch: 2_000))
        #expect(received > remote && received > clock)
    }
}
