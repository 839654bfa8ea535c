@preconcurrency import Crypto
import Testing
import VellumCore
import VellumSimulation

/// Anti-entropy by summary (Docs/PROTOCOL.md): replicas in sync agree in one round trip of
/// well under a kilobyte; when they differ, only the differing buckets' heads travel back.
@Suite("Summaries: idle anti-entropy costs one round trip")
struct SummaryTests {
    /// Runs one round to its end; returns the report and the bytes both ways.
    static func round(_ client: inout MemoryReplica, _ server: inout MemoryReplica) throws -> (SyncReport, bytes: Int) {
        var session = SyncSession(firstRequestID: 1, summarize: true)
        var directives = try session.start(client)
        var bytes = 0
        while !directives.isEmpty {
            let d = directives.removeFirst()
            switch d {
            case .send(let message, let id):
                let reply = server.answer(message)
                bytes += message.frames(requestID: id).reduce(0) { $0 + $1.count } + reply.frames(requestID: id).reduce(0) { $0 + $1.count }
                directives += try session.onReply(requestID: id, message: reply, replica: client)
            case .store:
                let added = client.apply([d])!
                directives += try session.onStored(added: added, replica: client)
            case .finished(let report): return (report, bytes)
            case .fail(let error): throw error
            default: continue
            }
        }
        Issue.record("the round never finished")
        return (SyncReport(), bytes)
    }

    /// `count` feeds of one entry each.
    static func feeds(_ count: Int) throws -> [Entry] {
        try (0..<count).flatMap { i in try feed(1, tag: "f\(i)") }
    }

    @Test("1,000 feeds in sync: one round trip, under 1 KB, and every feed caught up")
    func inSync() throws {
        let entries = try Self.feeds(1000)
        var a = MemoryReplica(entries), b = MemoryReplica(entries)
        let (report, bytes) = try Self.round(&a, &b)
        #expect(report.roundTrips == 1)
        #expect(bytes < 1024, "\(bytes) bytes")
        var session = SyncSession(firstRequestID: 1, summarize: true)
        let start = try session.start(a)
        guard case .send(.summary(let ours), 1)? = start.first else { Issue.record("no SUMMARY"); return }
        #expect(ours == HeadsSummary(b.heads().values) && ours.buckets.count == 64)
        let end = try session.onReply(requestID: 1, message: .headsIn(buckets: 0, []), replica: a)
        #expect(end.first == .markHeard(a.heads().keys.sorted()))
    }

    @Test("one feed of 1,000 differs: it alone moves, and the bytes follow the differing bucket, not every feed")
    func oneDiffers() throws {
        let shared = try Self.feeds(1000)
        let extra = try feed(3, tag: "new")
        var a = MemoryReplica(shared), b = MemoryReplica(shared + extra)
        let (report, bytes) = try Self.round(&a, &b)
        #expect(report.pulled == 3 && report.pushed == 0)
        #expect(a.heads() == b.heads())
        let entryBytes = extra.reduce(0) { $0 + $1.wireBytes.count }
        // Every head both ways would be 2 × 72 KB; a bucket holds about 1,000/64 of them.
        #expect(bytes - entryBytes < 8_000, "\(bytes - entryBytes) bytes beyond the entries")
        // And the next round is idle again.
        #expect(try Self.round(&a, &b).0.roundTrips == 1)
    }

    @Test("both sides hold feeds the other lacks, in many buckets: one round converges them both ways")
    func bothWays() throws {
        let shared = try Self.feeds(200)
        let onlyA = try Self.feeds(40), onlyB = try Self.feeds(40)
        var a = MemoryReplica(shared + onlyA), b = MemoryReplica(shared + onlyB)
        var grown = MemoryReplica(shared)
        grown.add(try feed(5, tag: "grow"))
        a.add(grown.feeds.values.flatMap { $0 })
        let (report, _) = try Self.round(&a, &b)
        #expect(report.pulled == 40 && report.pushed == 45)
        #expect(a.heads() == b.heads())
    }

    @Test("a summary short of its 64 bucket digests, or HEADS-IN with a head outside its buckets, does not decode")
    func malformed() throws {
        let heads = MemoryReplica(try Self.feeds(20)).heads().values.sorted { $0.feed < $1.feed }
        var body = SyncMessage.summary(HeadsSummary(heads)).frames(requestID: 9)
        #expect(body[1].count == 32 + 64 * 8)
        body[1].removeLast(8)
        #expect(throws: VellumError.self) { _ = try SyncMessage.decode(body) }
        let outside = heads.first!
        let wrong = SyncMessage.headsIn(buckets: ~HeadsSummary.bit(outside.feed), [outside]).frames(requestID: 9)
        #expect(throws: VellumError.self) { _ = try SyncMessage.decode(wrong) }
        let fine = SyncMessage.headsIn(buckets: HeadsSummary.bit(outside.feed), [outside])
        #expect(try SyncMessage.decode(fine.frames(requestID: 9)).message == fine)
        // Equal (truncated) bucket digests under different roots: every bucket is compared.
        let ours = HeadsSummary(heads)
        #expect(ours.differing(from: HeadsSummary(root: [UInt8](repeating: 0, count: 32), buckets: ours.buckets)) == .max)
        #expect(ours.differing(from: ours) == 0)
    }
}
