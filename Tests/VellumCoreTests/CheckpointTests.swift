@preconcurrency import Crypto
import Testing
import VellumCore
import VellumTestSupport

/// Checkpoints (Docs/LEDGER.md): where writers put them, what a batch may skip, and what a
/// relay that tampers with a checkpointed run gets for it.
@Suite("Checkpoints: one signature for a run of entries")
struct CheckpointTests {
    static let now = Timestamp(millisecondsSinceEpoch: 1_700_000_000_000)
    /// Where checkpoints go: every multiple of this seq.
    static let n = Int(CheckpointPayload.interval)

    static func statusItems(_ count: Int, from first: Int = 0) -> [(EntryKind, EntryPayload)] {
        (first..<(first + count)).map { i in
            (.revoke, .status(StatusPayload(credentialID: "urn:uuid:00000000-0000-4000-8000-\(String(format: "%012d", i))")))
        }
    }

    /// A feed of `count` entries with its checkpoints, written in runs of `run` items (runs
    /// that do not end on checkpoint positions).
    static func feed(_ count: Int, run: Int = n * 7 / 10, key: Curve25519.Signing.PrivateKey = .init()) -> [Entry] {
        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        var out: [Entry] = []
        var i = 0
        while out.count < count {
            out += writer.append(statusItems(run, from: i), now: now).map(\.entry)
            i += run
        }
        return Array(out.prefix(count))
    }

    @Test("a writer puts a checkpoint at every multiple of the interval, over the signatures since the one before")
    func placement() async throws {
        let n = Self.n
        let entries = Self.feed(2 * n + n / 10)
        #expect(entries.map(\.seq) == Array(1...UInt64(2 * n + n / 10)))
        #expect(entries.filter { $0.kind == .checkpoint }.map(\.seq) == [UInt64(n), UInt64(2 * n)])
        let checkpoint = entries[n - 1]
        guard case .checkpoint(let payload) = try EntryPayload(kind: .checkpoint, bytes: checkpoint.payload) else {
            Issue.record("not a checkpoint payload")
            return
        }
        #expect(payload.covers == n - 1)
        #expect(payload.signatures == CheckpointPayload.digest(entries[0..<(n - 1)].map(\.signature)))
        // Parallel signing makes the same structure.
        var parallel = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let bulk = await parallel.appendSigningInParallel(Self.statusItems(2 * n + n / 2), now: Self.now)
        #expect(bulk.filter { $0.kind == .checkpoint }.map(\.seq) == [UInt64(n), UInt64(2 * n)])
        #expect(bulk.count == 2 * n + n / 2 + 2)
        // Every entry, checkpoints included, verifies on its own too.
        for e in entries { _ = try EntryVerifier.verifyContents(e) }
    }

    @Test("a run closed by the writer ends on a checkpoint over the entries since the last one: the whole run is vouched for; a few entries, or a run ending just before a checkpoint position, close nothing")
    func closedRun() throws {
        let n = Self.n
        var writer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        var entries = writer.append(Self.statusItems(2 * n + n / 4), now: Self.now).map(\.entry)
        entries += writer.closeRun(now: Self.now).map(\.entry)
        #expect(entries.filter { $0.kind == .checkpoint }.map(\.seq) == [UInt64(n), UInt64(2 * n), UInt64(2 * n + n / 4 + 3)])
        #expect(EntryVerifier.vouched(entries) == Set(entries.indices))
        #expect(writer.pending.isEmpty && writer.closeRun(now: Self.now).isEmpty)
        // The next checkpoint position covers only what came after the closing checkpoint.
        entries += writer.append(Self.statusItems(n, from: 10 * n), now: Self.now).map(\.entry)
        guard let next = entries.first(where: { $0.seq == UInt64(3 * n) }), case .checkpoint(let payload) = try EntryPayload(kind: .checkpoint, bytes: next.payload) else {
            Issue.record("no checkpoint at \(3 * n)")
            return
        }
        #expect(payload.covers == n - (n / 4 + 3) - 1)
        #expect(EntryVerifier.vouched(entries).isSuperset(of: 0..<(3 * n)))
        // A few entries since the last checkpoint: not worth a signature of their own.
        var few = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        _ = few.append(Self.statusItems(FeedWriter.closingAtLeast - 1), now: Self.now)
        #expect(few.closeRun(now: Self.now).isEmpty)
        // A run ending just before a checkpoint position is left to it: that position would
        // otherwise have nothing to cover.
        var before = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        _ = before.append(Self.statusItems(n - 2), now: Self.now)
        #expect(before.closeRun(now: Self.now).isEmpty)
        let after = before.append(Self.statusItems(2, from: n), now: Self.now).map(\.entry)
        #expect(after.map(\.kind) == [.revoke, .checkpoint, .revoke] && after[1].seq == UInt64(n))
    }

    @Test("a writer resumed from the store covers what was signed before it started")
    func resumed() throws {
        let key = Curve25519.Signing.PrivateKey()
        let n = Self.n
        let first = Self.feed(n + n / 2, key: key)
        let head = FeedHead(feed: first.last!.feed, seq: first.last!.seq, id: first.last!.id)
        var writer = FeedWriter(key: key, head: head, clock: first.last!.hlc, pending: first[n..<(n + n / 2)].map(\.signature))
        let next = writer.append(Self.statusItems(n * 6 / 10, from: 50 * n), now: Self.now).map(\.entry)
        let all = first + next
        #expect(all[2 * n - 1].kind == .checkpoint)
        #expect(EntryVerifier.vouched(all).count == 2 * n)
    }

    @Test("a batch holding whole checkpointed runs skips their signatures; the tail is checked")
    func vouching() async throws {
        let n = Self.n
        let entries = Self.feed(2 * n + n / 10)
        let vouched = EntryVerifier.vouched(entries)
        #expect(vouched == Set(0..<(2 * n)))
        // A batch that starts inside a run cannot use that run's checkpoint.
        #expect(EntryVerifier.vouched(Array(entries[(n / 2)...])) == Set((n / 2)..<(n / 2 + n)))
        let verified = try await EntryVerifier.verify(entries, heads: [:], knownID: { _, _ in nil })
        #expect(verified.count == 2 * n + n / 10)
    }

    @Test("a relay that changes a covered signature, payload or link gets the whole run checked, and refused")
    func tampering() async throws {
        let entries = Self.feed(Self.n)
        let victim = entries[Self.n * 4 / 10]
        func replaced(_ e: Entry) -> [Entry] {
            var copy = entries
            copy[Self.n * 4 / 10] = e
            return copy
        }
        var junk = victim.signature
        junk[0] ^= 1
        let u = victim.unsigned
        let edited = UnsignedEntry(
            feed: u.feed, seq: u.seq, prev: u.prev, hlc: u.hlc, kind: .suspend,
            payload: EntryPayload.status(StatusPayload(credentialID: "urn:uuid:00000000-0000-4000-8000-999999999999")).json.canonicalBytes)
        // The last keeps every link and the digest (it claims the old id), so the run is
        // vouched for; the entry's own id check refuses it.
        let attacks: [(String, [Entry], String, Bool)] = [
            ("a flipped signature bit", replaced(Entry(unsigned: u, id: victim.id, signature: junk)), "signature does not verify", false),
            ("another payload under its new id", replaced(Entry(unsigned: edited, id: edited.id, signature: victim.signature)), "signature does not verify", false),
            ("another payload under the old id", replaced(Entry(unsigned: edited, id: victim.id, signature: victim.signature)), "id does not match", true),
        ]
        for (what, batch, reason, linksHold) in attacks {
            #expect(EntryVerifier.vouched(batch).count == (linksHold ? Self.n : 0), "\(what)")
            await #expect(throws: VellumError.self, "\(what) was accepted") {
                _ = try await EntryVerifier.verify(batch, heads: [:], knownID: { _, _ in nil })
            }
            do { _ = try await EntryVerifier.verifyContents(batch) } catch { #expect(error.message.contains(reason), "\(what): \(error.message)") }
        }
    }

    @Test("a checkpoint signed by another key vouches for nothing and is refused")
    func strangersCheckpoint() async throws {
        var entries = Self.feed(Self.n)
        let real = entries[Self.n - 1]
        let forged = Entry(unsigned: real.unsigned, id: real.id, signature: Array(try Curve25519.Signing.PrivateKey().signature(for: real.id.bytes)))
        entries[Self.n - 1] = forged
        #expect(EntryVerifier.vouched(entries).isEmpty)
        await #expect(throws: VellumError.self) { _ = try await EntryVerifier.verifyContents(entries) }
    }

    @Test("a stranger's valid checkpoint, in its own feed, over another feed's signatures vouches for none of them")
    func strangersOwnCheckpoint() async throws {
        var victim = Self.feed(Self.n - 1)
        let at = Self.n / 2
        var junk = victim[at].signature
        junk[0] ^= 1
        victim[at] = Entry(unsigned: victim[at].unsigned, id: victim[at].id, signature: junk)
        // The stranger signs, in its own feed, a checkpoint over the victim's (tampered) run.
        let stranger = Curve25519.Signing.PrivateKey()
        var writer = FeedWriter(key: stranger, head: nil, clock: HLC(rawValue: 0))
        let own = writer.append(Self.statusItems(1), now: Self.now).map(\.entry)
        let cp = UnsignedEntry(
            feed: own[0].feed, seq: 2, prev: own[0].id, hlc: own[0].hlc, kind: .checkpoint,
            payload: EntryPayload.checkpoint(CheckpointPayload(covering: victim.map(\.signature))).json.canonicalBytes)
        let forged = Entry(unsigned: cp, id: cp.id, signature: Array(try stranger.signature(for: cp.id.bytes)))
        let batch = victim + own + [forged]
        #expect(EntryVerifier.vouched(batch).isDisjoint(with: 0..<(Self.n - 1)))
        await #expect(throws: VellumError.self) { _ = try await EntryVerifier.verifyContents(batch) }
    }

    @Test("in any order and any split into batches, an honest run is taken whole and a tampered one never (seeded)", arguments: propertySeeds)
    func arrivalOrder(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let n = Self.n
        let honest = Self.feed(2 * n + n * 3 / 10)
        var tampered = honest
        let victim = Int.random(in: 0..<(2 * n - 1), using: &rng)
        var junk = tampered[victim].signature
        junk[3] ^= 0x40
        tampered[victim] = Entry(unsigned: tampered[victim].unsigned, id: tampered[victim].id, signature: junk)
        for (run, honestRun) in [(honest, true), (tampered, false)] {
            // Consecutive batches of random sizes, each shuffled: how a replica might receive them.
            var held: [Entry] = []
            var start = 0
            while start < run.count {
                let end = min(run.count, start + Int.random(in: 1...(2 * n + n / 10), using: &rng))
                let batch = Array(run[start..<end]).shuffled(using: &rng)
                let last = held.last
                let heads = last.map { [$0.feed: FeedHead(feed: $0.feed, seq: $0.seq, id: $0.id)] } ?? [:]
                do {
                    let linked = try await EntryVerifier.verify(batch, heads: heads, knownID: { _, _ in nil })
                    held += linked.map(\.verified.entry).sorted { $0.seq < $1.seq }
                } catch {
                    break
                }
                start = end
            }
            if honestRun {
                #expect(held.count == run.count, "seed \(seed): an honest run was refused after \(held.count) entries")
            } else {
                #expect(!held.contains { $0.signature == junk }, "seed \(seed): the tampered entry at \(victim) was stored")
                #expect(held.count <= victim, "seed \(seed)")
            }
        }
    }

    @Test("what a checkpoint trusts: the writer's word for the signatures it covers")
    func writersWord() async throws {
        // Only the key holder can make this: a bad signature inside its own checkpointed run.
        let key = Curve25519.Signing.PrivateKey()
        let n = Self.n
        var entries = Self.feed(n - 1, key: key)
        var bad = entries[10].signature
        bad[5] ^= 0xff
        entries[10] = Entry(unsigned: entries[10].unsigned, id: entries[10].id, signature: bad)
        let cp = UnsignedEntry(
            feed: entries[0].feed, seq: UInt64(n), prev: entries[n - 2].id, hlc: entries[n - 2].hlc, kind: .checkpoint,
            payload: EntryPayload.checkpoint(CheckpointPayload(covering: entries.map(\.signature))).json.canonicalBytes)
        entries.append(Entry(unsigned: cp, id: cp.id, signature: Array(try key.signature(for: cp.id.bytes))))
        #expect(EntryVerifier.vouched(entries).count == n)
        // Checked alone (as `vellum audit` checks every entry), the entry is refused.
        #expect(throws: VellumError.self) { _ = try EntryVerifier.verifyContents(entries[10]) }
    }

    @Test("a catch-up asks for runs that end on checkpoint positions, and a push offers them so", arguments: ["pull", "push"])
    func alignedWants(direction: String) {
        let feed = FeedKey([UInt8](repeating: 7, count: 32))!
        func want(have: UInt64, remote: UInt64) -> WantRange {
            let (short, long) = (have == 0 ? [] : [FeedHead(feed: feed, seq: have, id: .zero)], FeedHead(feed: feed, seq: remote, id: .zero))
            if direction == "push" { return Reconciliation.gives(local: [feed: long], remote: short, limit: 2000)[0] }
            return Reconciliation.wants(local: Dictionary(uniqueKeysWithValues: short.map { ($0.feed, $0) }), remote: [long], limit: 2000)[0]
        }
        /// A range cut by the batch limit ends on a checkpoint position, as late as it can.
        func endsOnCheckpoint(_ w: WantRange) -> Bool {
            (w.fromSeq + UInt64(w.limit) - 1) % CheckpointPayload.interval == 0 && w.limit > 2000 - UInt32(Self.n)
        }
        #expect(want(have: 0, remote: 1_000_000).limit == 2000)
        #expect(endsOnCheckpoint(want(have: 1234, remote: 1_000_000)))
        #expect(want(have: 3000, remote: 1_000_000).limit == 2000)
        #expect(want(have: 1234, remote: 2100).limit == 866)  // the rest fits: nothing cut
        #expect(endsOnCheckpoint(want(have: 1234, remote: 3500)))
    }
}
