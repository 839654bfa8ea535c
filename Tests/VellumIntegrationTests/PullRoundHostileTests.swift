@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumWire

/// A catch-up takes in the next batches while one is being stored (Docs/PROTOCOL.md, flow
/// control). A peer that turns hostile in the middle of a pull must find that overlap closed
/// to it: a forged batch arriving while an honest one is stored is refused and counted, and a
/// round that fails while a batch is being stored still stores that batch whole. A forged copy
/// of a feed from one peer, before or after the honest copy from another, costs the honest
/// copy nothing.
/// A task executor on a thread of its own. The liar answers on it, so it keeps answering
/// within the syncing node's request timeout while other tests' blocking calls hold the few
/// threads of Swift's shared cooperative pool.
final class DedicatedThread: TaskExecutor, @unchecked Sendable {  // `jobs` is guarded by `condition`
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    init() {
        let thread = Thread { [self] in
            while true {
                condition.lock()
                while jobs.isEmpty { condition.wait() }
                let batch = jobs
                jobs.removeAll()
                condition.unlock()
                for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            }
        }
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }
}

@Suite("A pull that turns hostile while a batch is being stored", .serialized)
struct PullRoundHostileTests {
    static let liarThread = DedicatedThread()

    /// A third party's feed of `count` issues (with its checkpoints), and its credential ids by seq.
    static func feed(_ count: Int) -> (entries: [Entry], credential: [UInt64: String]) {
        let key = Curve25519.Signing.PrivateKey()
        let did = try! DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        let items = (0..<count).map { (EntryKind.issue, issuePayload("urn:uuid:pulled-\($0)", issuer: did)) }
        let entries = writer.append(items, now: Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)).map(\.entry)
        var credential: [UInt64: String] = [:]
        for e in entries where e.kind == .issue { credential[e.seq] = (try? EntryPayload(stored: .issue, bytes: e.payload))?.credentialID }
        return (entries, credential)
    }

    /// Runs `vellum sync` of `target` against a raw server that offers `feed` (its SUMMARY
    /// answered with the feed's head) and answers each WANT with what `answer` returns for the
    /// range, and returns the sync's exit code and the reasons of the target's rejections of
    /// the raw server's key.
    static func pull(
        _ target: VellumProcess, feed: [Entry], answer: @escaping @Sendable (WantRange) -> SyncMessage
    ) async throws -> (code: Int32, rejections: [String]) {
        let head = FeedHead(feed: feed[0].feed, seq: feed.last!.seq, id: feed.last!.id)
        let liar = try await RawServer(allowing: target.transportKey)
        defer { liar.reactor.shutdown() }
        #expect(try target.run(["peer", "add", liar.endpoint, "--key=\(liar.keys.publicKey)"]).code == 0)
        let server = Task(executorPreference: Self.liarThread) {
            while !Task.isCancelled {
                guard let request = await liar.reactor.receive(within: 0.2), let (id, message) = try? SyncMessage.decode(request.frames) else { continue }
                switch message {
                case .summary: await liar.send(.headsIn(buckets: .max, [head]), requestID: id, to: request.routingID)
                case .want(let ranges): await liar.send(answer(ranges[0]), requestID: id, to: request.routingID)
                case .heads, .entries, .fork: await liar.send(.heads([]), requestID: id, to: request.routingID)
                case .offer: await liar.send(.want([]), requestID: id, to: request.routingID)
                case .error, .headsIn: break
                }
            }
        }
        defer { server.cancel() }
        // The process blocks its thread: off Swift's cooperative pool.
        let code = try await withCheckedThrowingContinuation { done in
            DispatchQueue.global().async { done.resume(with: Result { try target.run(["sync", "--peer", liar.endpoint], timeout: 60).code }) }
        }
        let rejections = try target.run(["rejections", "--json"]).json.arrayValue ?? []
        return (code, rejections.filter { $0["peer"]?.stringValue == liar.keys.publicKey }.compactMap { $0["reason"]?.stringValue })
    }

    /// The feed with one bad signature in its second batch (its checkpointed run is then
    /// checked entry by entry), and that entry's index.
    static func forgery(of honest: [Entry]) -> (entries: [Entry], bad: Int) {
        let bad = honest.firstIndex { $0.seq > UInt64(SyncMessage.maxEntriesPerMessage) + 50 && $0.kind == .issue }!
        return (honest.enumerated().map { i, e in i == bad ? Entry(unsigned: e.unsigned, id: e.id, signature: e.signature.map { $0 ^ 0x20 }) : e }, bad)
    }

    static func status(_ node: VellumProcess, _ id: String) throws -> String? {
        try node.run(["status", id, "--json"]).json["status"]?.stringValue
    }

    /// The credential issued at the highest seq at or below `seq`, or the lowest above it.
    static func credential(_ credential: [UInt64: String], atOrBelow seq: UInt64) -> String { credential[credential.keys.filter { $0 <= seq }.max()!]! }
    static func credential(_ credential: [UInt64: String], above seq: UInt64) -> String { credential[credential.keys.filter { $0 > seq }.min()!]! }

    @Test("a forged batch that arrives while the honest one before it is stored: refused whole and counted; the honest one is kept")
    func forgedBatchDuringStore() async throws {
        let scratch = try Scratch()
        let target = try scratch.initializedNode("target")
        let (honest, credential) = Self.feed(4_500)
        let limit = UInt64(SyncMessage.maxEntriesPerMessage)
        let (forged, bad) = Self.forgery(of: honest)
        let (code, rejections) = try await Self.pull(target, feed: honest) { range in
            let batch = range.fromSeq > limit ? forged : honest
            return .entries(batch.filter { $0.seq >= range.fromSeq && $0.seq - range.fromSeq < UInt64(range.limit) })
        }
        #expect(code != 0, "the sync reported success over a forged batch")
        // The first batch is stored; nothing of the forged one (not even its honest start), nor
        // of the one after it.
        #expect(try Self.status(target, Self.credential(credential, atOrBelow: limit)) == "active")
        #expect(try Self.status(target, Self.credential(credential, above: limit)) == "unknown")
        #expect(try Self.status(target, credential[honest[bad].seq]!) == "unknown")
        #expect(try Self.status(target, Self.credential(credential, above: limit * 2)) == "unknown")
        #expect(try target.run(["audit"]).code == 0)
        #expect(rejections.contains { $0.contains("signature") }, "\(rejections)")
    }

    @Test("a forged batch still waiting when the peer breaks the protocol: the round ends, and the forgery is counted too")
    func forgedBatchWaitingAtFailure() async throws {
        let scratch = try Scratch()
        let target = try scratch.initializedNode("target")
        let (honest, credential) = Self.feed(4_500)
        let limit = UInt64(SyncMessage.maxEntriesPerMessage)
        let (forged, _) = Self.forgery(of: honest)
        // The first batch honest; the second forged, waiting while the first is stored; the
        // third WANT, sent meanwhile, answered with HEADS.
        let (code, rejections) = try await Self.pull(target, feed: honest) { range in
            if range.fromSeq > 2 * limit { return .heads([]) }
            return .entries((range.fromSeq > limit ? forged : honest).filter { $0.seq >= range.fromSeq && $0.seq - range.fromSeq < UInt64(range.limit) })
        }
        #expect(code != 0)
        #expect(try Self.status(target, Self.credential(credential, atOrBelow: limit)) == "active")
        #expect(try Self.status(target, Self.credential(credential, above: limit)) == "unknown")
        #expect(try target.run(["audit"]).code == 0)
        #expect(rejections.contains { $0.contains("answered WANT with HEADS") }, "\(rejections)")
        #expect(rejections.contains { $0.contains("signature") }, "the forged batch was not counted: \(rejections)")
    }

    @Test("a forged copy of a feed from one peer, before or after part of the honest copy from another: the honest copy is then stored whole, the forgery counted against its sender only",
          arguments: [true, false])
    func forgedAndHonestCopies(forgedFirst: Bool) async throws {
        let scratch = try Scratch()
        let target = try scratch.initializedNode("target")
        let (honest, credential) = Self.feed(2_500)
        let (forged, bad) = Self.forgery(of: honest)
        func serving(_ copy: [Entry]) -> @Sendable (WantRange) -> SyncMessage {
            { range in .entries(copy.filter { $0.seq >= range.fromSeq && $0.seq - range.fromSeq < UInt64(range.limit) }) }
        }
        if !forgedFirst {
            // The honest peer has reached only the first batch when the forger offers the rest.
            let (code, rejections) = try await Self.pull(target, feed: Array(honest.prefix(SyncMessage.maxEntriesPerMessage)), answer: serving(honest))
            #expect(code == 0 && rejections.isEmpty, "\(rejections)")
        }
        let (code, rejections) = try await Self.pull(target, feed: honest, answer: serving(forged))
        #expect(code != 0 && rejections.contains { $0.contains("signature") }, "\(rejections)")
        #expect(try Self.status(target, credential[honest[bad].seq]!) == "unknown")
        let (honestCode, honestRejections) = try await Self.pull(target, feed: honest, answer: serving(honest))
        #expect(honestCode == 0 && honestRejections.isEmpty, "the honest peer was blamed: \(honestRejections)")
        for seq in [honest[bad].seq, honest.last { $0.kind == .issue }!.seq] {
            #expect(try Self.status(target, credential[seq]!) == "active", "seq \(seq)")
        }
        #expect(try target.run(["audit"]).code == 0)
    }

    @Test("a round that fails while a batch is being stored stores that batch whole first")
    func failureDuringStore() async throws {
        let scratch = try Scratch()
        let target = try scratch.initializedNode("target")
        let (honest, credential) = Self.feed(4_500)
        let limit = UInt64(SyncMessage.maxEntriesPerMessage)
        // The second WANT goes out as the first batch's store starts; its answer breaks the protocol.
        let (code, rejections) = try await Self.pull(target, feed: honest) { range in
            guard range.fromSeq <= 1 else { return .heads([]) }
            return .entries(honest.filter { $0.seq < UInt64(range.limit) + 1 })
        }
        #expect(code != 0)
        #expect(try Self.status(target, Self.credential(credential, atOrBelow: limit)) == "active")
        #expect(try target.run(["audit"]).code == 0)
        #expect(rejections.contains { $0.contains("answered WANT with HEADS") }, "\(rejections)")
    }
}
