@preconcurrency import Crypto
import Testing
import VellumCore
import VellumTestSupport

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
            .heads(Dictionary(entries.map { ($0.feed, FeedHead(feed: $0.feed, seq: $0.seq, id: $0.id)) }, uniquingKeysWith: { $0.seq > $1.seq ? $0 : $1 })
                .values.sorted { $0.feed < $1.feed }),  // one head per feed
            .want([WantRange(feed: entries[0].feed, fromSeq: 1, limit: 10)]),
            .offer([WantRange(feed: entries[0].feed, fromSeq: 3, limit: 7)]),
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

    @Test("ERROR text: at most 1,000 bytes of UTF-8; a character cut at the end (older senders) is dropped, other bad bytes refused")
    func errorText() throws {
        func decode(_ text: [UInt8]) -> SyncMessage? {
            try? SyncMessage.decode([[SyncMessage.version, 5, 0, 0, 0, 1], [0, 0, 1, 144] + text]).message
        }
        let long = String(repeating: "é", count: 600)  // 1,200 bytes
        let sent = SyncMessage.error(code: 400, message: long).frames(requestID: 1)
        #expect(sent[1].count == 4 + 1000)
        guard case .error(_, let text)? = try? SyncMessage.decode(sent).message else { Issue.record("the cut text did not decode"); return }
        #expect(text == String(repeating: "é", count: 500))
        #expect(decode([]) == .error(code: 400, message: ""))
        #expect(decode(Array("ok é".utf8).dropLast()) == .error(code: 400, message: "ok "))
        #expect(decode(Array("ok".utf8) + [0xF0, 0x9F, 0x98]) == .error(code: 400, message: "ok"))
        #expect(decode(Array("ok".utf8) + [0xFF]) == nil)
        #expect(decode(Array("o".utf8) + [0x80, 0x80]) == nil)
        #expect(decode([UInt8](repeating: 0x61, count: 1001)) == nil)
    }

    @Test("base58 refuses text longer than its byte limit allows, before decoding it")
    func base58Bounds() {
        // The longest values that fit still decode: 64 bytes of 0xFF take 88 characters, 64 zero bytes 64.
        for bytes in [[UInt8](repeating: 0xFF, count: 64), [UInt8](repeating: 0, count: 64), [UInt8](repeating: 0xFF, count: 34)] {
            let text = Base58.encode(bytes)
            #expect(text.count <= Base58.maximumLength(forBytes: bytes.count))
            #expect(Base58.decode(text, maxBytes: bytes.count) == bytes)
            #expect(Base58.decode(text, maxBytes: bytes.count - 1) == nil)
        }
        #expect(Base58.maximumLength(forBytes: 64) == 88)
        // 88 digits can still hold more than 64 bytes: refused after decoding.
        #expect(Base58.decode(String(repeating: "z", count: 88), maxBytes: 64) == nil)
        // A megabyte is refused by its length, without the quadratic decode (which would take minutes).
        #expect(Base58.decode(String(repeating: "z", count: 1 << 20), maxBytes: 64) == nil)
        #expect(Base58.decode(String(repeating: "1", count: 89), maxBytes: 64) == nil)
    }

    @Test("did:key and proofValue refuse over-long text by its length, with a short message that names the problem")
    func overlongKeysAndProofs() throws {
        let megabyte = String(repeating: "z", count: 1 << 20)
        for text in ["did:key:z6Mk" + megabyte, "did:key:" + megabyte, "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp#" + megabyte,
                     "did:web:" + megabyte] {
            do {
                _ = try DIDKey(parsing: text)
                Issue.record("accepted a \(text.utf8.count)-byte did:key")
            } catch {
                #expect(error.code == .invalidKey)
                #expect(error.message.utf8.count < 400, "\(error.message.prefix(200))")
                // Refused by its length (or, for a fragment, compared as text), before any decoding.
                #expect(text.hasPrefix("did:web:") || error.message.contains("characters") || error.message.contains("does not name its own key"),
                        "\(error.message.prefix(200))")
            }
        }
        #expect(throws: VellumError.self) { try DIDKey(multibase: "z" + megabyte) }
        #expect(DIDKey.maximumMultibaseLength == 48)

        let key = Curve25519.Signing.PrivateKey()
        let did = try DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
        let signed = try DataIntegrity.sign(
            ["id": "urn:uuid:1"], options: .init(verificationMethod: did.verificationMethod, created: "2026-01-01T00:00:00Z"), with: key)
        #expect(try DataIntegrity.verify(signed).signer == did)
        for (member, value) in [("proofValue", "z" + megabyte), ("verificationMethod", "did:key:z6Mk" + megabyte)] {
            let hostile = signed.setting("proof", to: signed["proof"]!.setting(member, to: .string(value)))
            do {
                _ = try DataIntegrity.verify(hostile)
                Issue.record("a proof with a 1 MiB \(member) verified")
            } catch {
                #expect(error.code == .invalidProof)
                #expect(error.message.utf8.count < 400, "\(error.message.prefix(200))")
                #expect(error.message.contains("characters"), "refused by length: \(error.message.prefix(200))")
            }
        }
    }

    @Test("JSON: deep nesting of any kind is a clean error; long numbers, strings and arrays parse in linear time")
    func jsonBounds() throws {
        for text in [String(repeating: "[", count: 1 << 20), String(repeating: "{\"a\":", count: 200_000), String(repeating: "[{\"a\":", count: 100_000)] {
            #expect(throws: JSONError.self) { try JSON(parsing: text) }
        }
        let deepest = String(repeating: "[", count: JSON.maximumDepth) + String(repeating: "]", count: JSON.maximumDepth)
        _ = try JSON(parsing: deepest)
        #expect(throws: JSONError.self) { try JSON(parsing: "[" + deepest + "]") }
        _ = try JSON(parsing: "[" + String(repeating: "0,", count: 500_000) + "0]")
        _ = try JSON(parsing: "\"" + String(repeating: "\\u00e9", count: 150_000) + "\"")
        #expect(throws: JSONError.self) { try JSON(parsing: "1" + String(repeating: "7", count: 1 << 20)) }
        _ = try JSON(parsing: "0." + String(repeating: "7", count: 1 << 20))
    }

    @Test("the structural validator names at most 20 problems, however many items are malformed")
    func validatorBound() {
        let credential: JSON = ["credentialSubject": .array(Array(repeating: 7, count: 100_000)), "evidence": .array(Array(repeating: [:], count: 100_000))]
        let problems = OpenBadgeValidator.problems(in: credential)
        #expect(problems.count == 21)
        #expect(problems.last == "(checking stopped after 20 problems)")
    }
}
