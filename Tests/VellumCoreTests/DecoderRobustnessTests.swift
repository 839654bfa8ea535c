import Testing
import VellumCore

/// Untrusted bytes never crash a decoder: they decode or throw a reason. Seeded, replayable.
@Suite("Decoders on hostile input")
struct DecoderRobustnessTests {
    static func mutations(of valid: [UInt8], seed: UInt64, count: Int) -> [[UInt8]] {
        var rng = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            var bytes = valid
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: if !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            case 1: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
            case 2: bytes += (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            default: bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            return bytes
        }
    }

    @Test("sync messages: mutated frames decode or throw", arguments: propertySeeds)
    func syncMessages(seed: UInt64) throws {
        let entries = randomHistory(seed: seed).entries.map(\.entry)
        let messages: [SyncMessage] = [
            .heads(entries.prefix(3).map { FeedHead(feed: $0.feed, seq: $0.seq, id: $0.id) }),
            .want([WantRange(feed: entries[0].feed, fromSeq: 1, limit: 10)]),
            .entries(Array(entries.prefix(4))),
            .error(code: 400, message: "nope"),
        ]
        for message in messages {
            let frames = message.frames(requestID: 9)
            #expect(try SyncMessage.decode(frames).message == message, "seed \(seed)")
            for body in Self.mutations(of: frames[1], seed: seed, count: 200) {
                _ = try? SyncMessage.decode([frames[0], body])
            }
            for header in Self.mutations(of: frames[0], seed: seed ^ 1, count: 50) {
                _ = try? SyncMessage.decode([header, frames[1]])
            }
        }
    }

    @Test("entries: mutated wire bytes never verify unless unchanged", arguments: propertySeeds)
    func entries(seed: UInt64) {
        let entry = randomHistory(seed: seed).entries[0].entry
        let wire = entry.wireBytes
        #expect((try? Entry(wireBytes: wire)) == entry)
        for bytes in Self.mutations(of: wire, seed: seed, count: 300) where bytes != wire {
            guard let decoded = try? Entry(wireBytes: bytes) else { continue }
            #expect((try? EntryVerifier.verifyContents(decoded)) == nil, "seed \(seed): a mutated entry verified")
        }
    }

    @Test("JSON: mutated documents parse or throw", arguments: propertySeeds)
    func json(seed: UInt64) throws {
        let document = Array(#"{"a":[1,2.5e-3,"\u00e9\ud83d\ude00",true,null],"b":{"c":"d\n"}}"#.utf8)
        _ = try JSON(parsing: document)
        for bytes in Self.mutations(of: document, seed: seed, count: 500) { _ = try? JSON(parsing: bytes) }
        // Deep nesting is refused, not recursed into without end.
        #expect(throws: JSONError.self) { try JSON(parsing: String(repeating: "[", count: 100_000)) }
    }
}
