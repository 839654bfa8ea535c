@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumNode
@testable import VellumStore
import VellumTestSupport

/// The store materializes a credential from the facts of the batch being appended, held in
/// memory, plus those stored before it, read through an index range that ends at the batch's
/// first row; or, for a credential with no row on a feed that holds no facts about credentials
/// without one (`feeds.unissued`), from the batch alone. Feeds that issue ids twice and change
/// a status after the issue, and in half the rounds before it too, two of them over the same
/// ids, delivered in any cut of batches, must materialize exactly as the pure merge over all
/// of it.
@Suite("Materialized state under any batching, in process")
struct MaterializeBatchingTests {
    static let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)

    /// A random history of one feed over a few ids: issues (some twice) and status changes,
    /// some written before the id's first issue if `changesBeforeIssue`.
    static func history(_ key: Curve25519.Signing.PrivateKey, changesBeforeIssue: Bool, _ rng: inout SeededGenerator) -> [Entry] {
        let feed = FeedKey(Array(key.publicKey.rawRepresentation))!
        let ids = (0..<6).map { "urn:uuid:m-\($0)" }
        var items: [(EntryKind, EntryPayload)] = []
        var issued: Set<String> = []
        for _ in 0..<Int.random(in: 10...40, using: &rng) {
            let id = ids.randomElement(using: &rng)!
            switch Int.random(in: 0..<5, using: &rng) {
            case let n where n < 2 || !(changesBeforeIssue || issued.contains(id)):
                items.append((.issue, EquivocationOrderTests.payload(id, feed)))
                issued.insert(id)
            default:
                let kind = [EntryKind.revoke, .suspend, .reinstate].randomElement(using: &rng)!
                items.append((kind, .status(.init(credentialID: id, reason: nil))))
            }
        }
        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        return writer.append(items, now: now).map(\.entry)
    }

    @Test("any cut of two feeds over the same ids into batches, some holding both feeds, some stored as two appends in one transaction, materializes the same state as the pure merge", arguments: propertySeeds)
    func anyCut(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        for round in 0..<4 {
            // Two feeds over the same ids: separate credentials, none speaking for the other's.
            let early = round % 2 == 1
            let feeds = [Self.history(Curve25519.Signing.PrivateKey(), changesBeforeIssue: early, &rng), Self.history(Curve25519.Signing.PrivateKey(), changesBeforeIssue: early, &rng)]
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-batching-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let node = try Node.create(at: dir, name: "R", baseURL: "https://r.example")
            var next = [0, 0]
            while next[0] < feeds[0].count || next[1] < feeds[1].count {
                // A run of one feed's next entries, or of both in one batch (either first): the
                // other feed's issue or status change of the same id in the same append.
                var batch: [Entry] = []
                for f in [0, 1].shuffled(using: &rng) where next[f] < feeds[f].count && (batch.isEmpty || Bool.random(using: &rng)) {
                    let end = min(feeds[f].count, next[f] + Int.random(in: 1...8, using: &rng))
                    batch += feeds[f][next[f]..<end]
                    next[f] = end
                }
                guard batch.count > 1, Bool.random(using: &rng) else {
                    _ = try await node.importEntries(batch)
                    continue
                }
                // Two appends in one transaction: the second's facts stored by the first.
                let store = node.store
                let linked = try await EntryVerifier.verify(batch, heads: try store.heads(), knownID: { _, _ in nil })
                let half = Int.random(in: 1..<linked.count, using: &rng)
                try store.transaction {
                    try store.append(Array(linked[..<half]))
                    try store.append(Array(linked[half...]))
                }
            }
            let context = "seed \(seed) round \(round), \(feeds[0].count) + \(feeds[1].count) entries"
            for entries in feeds {
                #expect(try node.store.heads()[entries[0].feed]?.seq == UInt64(entries.count), "\(context): every batch is stored")
            }
            var stored: [Entry] = []
            try node.store.forEachEntry { stored.append($0) }
            let expected = LedgerState(try await EntryVerifier.verify(stored, heads: [:], knownID: { _, _ in nil }).map(\.verified))
            #expect(try node.digest() == expected.stateRoot, "\(context): the materialized state differs from the merge")
            #expect(try await node.audit().ok, "\(context)")
            let unissued = try node.store.query("SELECT unissued FROM feeds", []) { $0.int(0) }
            #expect(early || !unissued.contains(1), "\(context): a feed that changed no status before the issue is not marked")
        }
    }

    @Test("a stranger's revoke and reinstate of an issuer's credentials, and its own issue of the same id, before, with or after the issuer's entries, in one append or two, in either order: the issuer's credential takes its first row from the batch alone and only its own revoke decides it",
          arguments: [false, true])
    func strangerAroundFirstRow(strangerIssues: Bool) async throws {
        let (issuerKey, strangerKey) = (Curve25519.Signing.PrivateKey(), Curve25519.Signing.PrivateKey())
        let (issuer, stranger) = (FeedKey(Array(issuerKey.publicKey.rawRepresentation))!, FeedKey(Array(strangerKey.publicKey.rawRepresentation))!)
        let (x, y) = ("urn:uuid:x", "urn:uuid:y")
        var issuerWriter = FeedWriter(key: issuerKey, head: nil, clock: HLC(rawValue: 0))
        let own = issuerWriter.append([(.issue, EquivocationOrderTests.payload(y, issuer)), (.issue, EquivocationOrderTests.payload(x, issuer)), (.revoke, .status(.init(credentialID: y, reason: nil)))], now: Self.now).map(\.entry)
        let ownRevokeX = issuerWriter.append([(.revoke, .status(.init(credentialID: x, reason: nil)))], now: Self.now).map(\.entry)
        var strangerWriter = FeedWriter(key: strangerKey, head: nil, clock: HLC(rawValue: 0))
        let theirs = strangerWriter.append(
            [(.revoke, .status(.init(credentialID: x, reason: "takeover"))), (.reinstate, .status(.init(credentialID: y, reason: "takeover")))]
                + (strangerIssues ? [(.issue, EquivocationOrderTests.payload(x, stranger))] : []), now: Self.now).map(\.entry)
        // After the issuer's revoke of x: the stranger's reinstate of it, to undo the revocation.
        let theirsLater = strangerWriter.append([(.reinstate, .status(.init(credentialID: x, reason: "undo")))], now: Self.now).map(\.entry)
        // Every way of delivering them: separate appends either way round, one append either way
        // round, and two appends in one transaction cut at every position.
        var deliveries: [(appends: [[Entry]], oneTransaction: Bool)] = [[theirs, own], [own, theirs], [theirs + own], [own + theirs]].map { ($0, false) }
        for all in [theirs + own, own + theirs] {
            for cut in 1..<all.count { deliveries.append(([Array(all[..<cut]), Array(all[cut...])], true)) }
        }
        for (n, delivery) in deliveries.enumerated() {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-stranger-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let node = try Node.create(at: dir, name: "R", baseURL: "https://r.example")
            let store = node.store
            if delivery.oneTransaction {
                let (first, second) = (delivery.appends[0], delivery.appends[1])
                let linked = try await EntryVerifier.verify(first + second, heads: [:], knownID: { _, _ in nil })
                try store.transaction {
                    try store.append(Array(linked[..<first.count]))
                    try store.append(Array(linked[first.count...]))
                }
            } else {
                for batch in delivery.appends { _ = try await node.importEntries(batch) }
            }
            let context = "stranger issues: \(strangerIssues), delivery \(n)"
            func state(_ feed: FeedKey, _ id: String) throws -> CredentialResolution {
                try store.resolution(of: CredentialKey(feed: feed, id: id), asOf: Self.now).resolution
            }
            let ownIDs = Set((own + ownRevokeX).map(\.id))
            #expect(try state(issuer, x).base == .active && state(issuer, x).decidedBy == nil, "\(context)")
            #expect(try state(issuer, y).base == .revoked && state(issuer, y).decidedBy.map(ownIDs.contains) == true, "\(context)")
            #expect(try state(stranger, x).base == (strangerIssues ? .revoked : .unknown), "\(context): the stranger's own x, revoked by its own entry before it")
            // The issuer took the shortcut (unmarked); the stranger's reinstate of a credential it
            // never issued marks its own feed, and only its own.
            let marks = Dictionary(uniqueKeysWithValues: try store.query("SELECT key, unissued FROM feeds", []) { (FeedKey($0.blob(0))!, $0.int(1)) })
            #expect(marks == [issuer: 0, stranger: 1], "\(context)")
            // The issuer's own revoke then decides x.
            _ = try await node.importEntries(ownRevokeX)
            #expect(try state(issuer, x).base == .revoked && state(issuer, x).decidedBy == ownRevokeX[0].id, "\(context)")
            // The stranger's reinstate after it does not undo it.
            _ = try await node.importEntries(theirsLater)
            #expect(try state(issuer, x).base == .revoked && state(issuer, x).decidedBy == ownRevokeX[0].id, "\(context): after the stranger's reinstate")
            var stored: [Entry] = []
            try store.forEachEntry { stored.append($0) }
            let merged = LedgerState(try await EntryVerifier.verify(stored, heads: [:], knownID: { _, _ in nil }).map(\.verified))
            #expect(try node.digest() == merged.stateRoot, "\(context)")
            #expect(try await node.audit().ok, "\(context)")
            // The state rebuilt from the log holding the stranger's entries is the same, marks included.
            try store.setMeta("rematerialize", "1")
            let rebuilt = try Node.open(at: dir)
            #expect(try rebuilt.digest() == merged.stateRoot, "\(context): rebuilt")
            #expect(try rebuilt.store.resolution(of: CredentialKey(feed: issuer, id: x), asOf: Self.now).resolution.decidedBy == ownRevokeX[0].id, "\(context): rebuilt")
            #expect(try rebuilt.store.query("SELECT unissued FROM feeds WHERE key = ?", [.blob(stranger.bytes)]) { $0.int(0) } == [1], "\(context): rebuilt")
        }
    }
}
