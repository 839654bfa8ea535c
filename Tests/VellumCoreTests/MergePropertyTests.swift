@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore

/// SplitMix64: a tiny seeded generator so every property run can be replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seeds: fixed ones, plus a fresh one per run (printed), or exactly `VELLUM_SEED` to replay.
let propertySeeds: [UInt64] = {
    if let text = ProcessInfo.processInfo.environment["VELLUM_SEED"], let seed = UInt64(text) { return [seed] }
    let fresh = UInt64.random(in: 0...UInt64.max)
    print("merge property tests: fresh seed \(fresh) (replay with VELLUM_SEED=\(fresh))")
    return [1, 2, 3, 42, 1234, 99_991, fresh]
}()

/// A random history: a few feeds (each its own issuer) issuing credentials and changing the
/// status of their own, other feeds' (unauthorized) and unknown credentials, with wall clocks
/// that jump around and collide.
func randomHistory(seed: UInt64) -> [VerifiedEntry] {
    var rng = SeededGenerator(seed: seed)
    let feedCount = Int.random(in: 1...3, using: &rng)
    var writers = (0..<feedCount).map { _ in
        let seedBytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        return FeedWriter(key: try! Curve25519.Signing.PrivateKey(rawRepresentation: seedBytes), head: nil, clock: HLC(rawValue: 0))
    }
    var credentials: [(feed: Int, id: String)] = []
    var entries: [VerifiedEntry] = []
    for _ in 0..<Int.random(in: 5...40, using: &rng) {
        let w = Int.random(in: 0..<feedCount, using: &rng)
        let now = Timestamp(millisecondsSinceEpoch: Int64.random(in: 1_000...1_020, using: &rng))
        if credentials.isEmpty || Int.random(in: 0..<3, using: &rng) == 0 {
            let id = "urn:uuid:\(UUID(uuid: (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }.withUnsafeBytes { $0.load(as: uuid_t.self) }))".lowercased()
            let did = writers[w].feed.didKey.did
            let payload = samplePayload(
                id, issuer: did, validUntil: Bool.random(using: &rng) ? "2026-06-01T00:00:00Z" : nil, statusListIndex: credentials.count)
            entries += writers[w].append([(.issue, .issue(payload))], now: now)
            credentials.append((w, id))
        } else {
            let kind = [EntryKind.revoke, .suspend, .suspend, .reinstate, .reinstate].randomElement(using: &rng)!
            let target = Int.random(in: 0..<6, using: &rng) == 0 ? "urn:uuid:unknown-\(Int.random(in: 0..<3, using: &rng))" : credentials.randomElement(using: &rng)!.id
            entries += writers[w].append([(kind, .status(StatusPayload(credentialID: target)))], now: now)
        }
    }
    return entries
}

@Suite("CRDT merge properties")
struct MergePropertyTests {
    @Test("any permutation with duplicates gives one state root", arguments: propertySeeds)
    func permutations(seed: UInt64) {
        let entries = randomHistory(seed: seed)
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
        let entries = Array(randomHistory(seed: seed).prefix(6))
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
        let entries = randomHistory(seed: seed)
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
        let entries = randomHistory(seed: seed)
        let state = LedgerState(entries)
        for (id, resolution) in state.credentials {
            let issue = entries.filter { $0.kind == .issue && $0.credentialID == id }.min { ($0.hlc, $0.feed, $0.id) < ($1.hlc, $1.feed, $1.id) }!
            // Replay the issuer's status changes in HLC order: revoke sticks, the last suspend/reinstate wins.
            var status = CredentialStatus.active
            for e in entries.filter({ $0.credentialID == id && $0.kind != .issue && $0.feed == issue.feed }).sorted(by: { ($0.hlc, $0.id) < ($1.hlc, $1.id) }) {
                if status == .revoked { break }
                status = e.kind == .revoke ? .revoked : e.kind == .suspend ? .suspended : .active
            }
            #expect(resolution.base == status, "seed \(seed) credential \(id)")
            #expect(resolution.issue?.entry == issue.id)
            // A change from another feed never has any effect.
            if let decided = resolution.decidedBy { #expect(entries.first { $0.id == decided }!.feed == issue.feed) }
        }
    }

    @Test("a status entry that arrives before its issue takes effect when the issue arrives")
    func statusBeforeIssue() {
        var writer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let payload = samplePayload("urn:uuid:1", issuer: writer.feed.didKey.did, validUntil: "2026-06-01T00:00:00Z")
        let now = Timestamp(millisecondsSinceEpoch: 5_000)
        let issue = writer.append([(.issue, .issue(payload))], now: now)[0]
        let suspend = writer.append([(.suspend, .status(StatusPayload(credentialID: "urn:uuid:1")))], now: now)[0]
        var state = LedgerState()
        state.apply(suspend)
        #expect(state.resolution(of: "urn:uuid:1").base == .unknown)
        state.apply(issue)
        let r = state.resolution(of: "urn:uuid:1")
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
