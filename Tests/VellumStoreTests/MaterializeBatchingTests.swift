@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumNode
import VellumStore
import VellumTestSupport

/// The store materializes a credential from the facts of the batch being appended, held in
/// memory, plus those stored before it, read through an index range that ends at the batch's
/// first row. A feed that issues ids twice, changes a status before the issue and after it,
/// delivered in any cut of batches, must materialize exactly as the pure merge over all of it.
@Suite("Materialized state under any batching, in process")
struct MaterializeBatchingTests {
    static let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)

    /// A random history of one feed over a few ids: issues (some twice) and status changes,
    /// some written before the id's first issue.
    static func history(_ key: Curve25519.Signing.PrivateKey, _ rng: inout SeededGenerator) -> [Entry] {
        let feed = FeedKey(Array(key.publicKey.rawRepresentation))!
        let ids = (0..<6).map { "urn:uuid:m-\($0)" }
        var items: [(EntryKind, EntryPayload)] = []
        for _ in 0..<Int.random(in: 10...40, using: &rng) {
            let id = ids.randomElement(using: &rng)!
            switch Int.random(in: 0..<5, using: &rng) {
            case 0, 1:
                items.append((.issue, EquivocationOrderTests.payload(id, feed)))
            default:
                let kind = [EntryKind.revoke, .suspend, .reinstate].randomElement(using: &rng)!
                items.append((kind, .status(.init(credentialID: id, reason: nil))))
            }
        }
        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        return writer.append(items, now: now).map(\.entry)
    }

    @Test("every cut of one feed into batches materializes the same state as the pure merge over the whole feed", arguments: propertySeeds)
    func everyCut(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        for round in 0..<4 {
            let entries = Self.history(Curve25519.Signing.PrivateKey(), &rng)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-batching-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let node = try Node.create(at: dir, name: "R", baseURL: "https://r.example")
            var start = 0
            while start < entries.count {
                let end = min(entries.count, start + Int.random(in: 1...8, using: &rng))
                _ = try await node.importEntries(Array(entries[start..<end]))
                start = end
            }
            let context = "seed \(seed) round \(round), \(entries.count) entries"
            #expect(try node.store.heads()[entries[0].feed]?.seq == UInt64(entries.count), "\(context): every batch is stored")
            var stored: [Entry] = []
            try node.store.forEachEntry { stored.append($0) }
            let expected = LedgerState(try await EntryVerifier.verify(stored, heads: [:], knownID: { _, _ in nil }).map(\.verified))
            #expect(try node.digest() == expected.stateRoot, "\(context): the materialized state differs from the merge")
            #expect(try await node.audit().ok, "\(context)")
        }
    }
}
