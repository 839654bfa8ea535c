import Foundation
import Testing
@testable import VellumCore
import VellumTestSupport

/// An issue payload is read in one pass when its bytes are in the plain canonical form
/// (`IssuePayload(plainCanonical:)`); the general path parses JSON, checks the canonical form and
/// reads the fields. The one pass must never accept what the general path refuses, nor read
/// other values, nor throw another error. Seeded, replayable.
@Suite("Issue payloads: the one-pass reader agrees with the general path")
struct PlainPayloadTests {
    /// The general path, as `EntryPayload` takes it for anything the one pass leaves.
    static func general(_ bytes: [UInt8]) -> Result<IssuePayload, VellumError> {
        Result { () throws(VellumError) -> IssuePayload in
            guard let json = try? JSON(parsing: bytes) else { throw VellumError(.invalidEntry, "not JSON") }
            guard json.canonicalBytes == bytes else { throw VellumError(.invalidEntry, "not canonical") }
            return try IssuePayload(json: json)
        }
    }

    static func text(_ rng: inout SeededGenerator) -> String {
        let pieces = ["a", "Z", "0", " ", "-", ":", "/", "é", "😀", "\u{2028}", "\u{7F}", "\"", "\\", "\n", "\u{01}", "\u{1F}"]
        return (0..<Int.random(in: 0...5, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    /// A payload's JSON. Half of them are valid; in the other half any field may be replaced
    /// by random text, missing, of another type, or joined by a field no issue payload has.
    static func payload(_ rng: inout SeededGenerator) -> JSON {
        let faulty = Bool.random(using: &rng)
        func chance(_ percent: Int, _ rng: inout SeededGenerator) -> Bool { faulty && Int.random(in: 0..<100, using: &rng) < percent }
        func pick(_ valid: String, _ rng: inout SeededGenerator) -> JSON {
            guard faulty else { return .string(valid) }
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<6: return .string(text(&rng))
            case 6..<14: return .string(valid + ["x", " ", "é", "😀", "\u{2028}", "\u{7F}"].randomElement(using: &rng)!)
            case 14..<17: return .number(1)
            case 17..<20: return .string("")
            default: return .string(valid)
            }
        }
        var achievement: [String: JSON] = [
            "id": pick("urn:uuid:a", &rng), "name": pick("Course 7", &rng), "type": pick("Badge", &rng),
        ]
        if chance(10, &rng) { achievement["extra"] = .string(text(&rng)) }
        let indexes: [Double] = [0, 7, 123_456, 999_999_999_999] + (faulty ? [1_000_000_000_000, 0.5, -1] : [])
        var o: [String: JSON] = [
            "achievement": .object(achievement), "credential": pick("urn:uuid:0f7c6a52-5d2b-4a57-9a43-1c1c1e6f0a11", &rng),
            "digest": pick(String(repeating: "ab", count: 32), &rng), "issuer": pick("did:key:z6Mk", &rng),
            "statusListIndex": .number(indexes.randomElement(using: &rng)!),
            "subjectCommitment": pick(String(repeating: "cd", count: 32), &rng), "validFrom": pick("2026-01-01T00:00:00Z", &rng),
        ]
        if chance(20, &rng) {
            o["validUntil"] = .null
        } else if Bool.random(using: &rng) {
            o["validUntil"] = pick("2031-01-01T00:00:00Z", &rng)
        }
        if chance(10, &rng) { o.removeValue(forKey: o.keys.randomElement(using: &rng)!) }
        if chance(10, &rng) { o["zzz"] = .string(text(&rng)) }
        return .object(o)
    }

    @Test("canonical, mutated and hand-written forms: where the one pass reads, the general path reads the same", arguments: propertySeeds)
    func agrees(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var read = 0, total = 0
        for round in 0..<1_500 {
            var bytes = Self.payload(&rng).canonicalBytes
            switch round % 6 {
            case 0, 2, 4: break
            case 1: bytes = DecoderRobustnessTests.mutations(of: bytes, seed: rng.next(), count: 1)[0]
            case 3:  // whitespace, or an escape JSON allows but canonical form does not use
                let at = Int.random(in: 0...bytes.count, using: &rng)
                bytes.insert(contentsOf: [[0x20], Array(#"\/"#.utf8), Array(#"\u0061"#.utf8)].randomElement(using: &rng)!, at: at)
            default:  // forms JSON allows and canonical form does not use
                let (form, other) = [
                    (",\"", ", \""), (#""statusListIndex":"#, #""statusListIndex":0"#), (#""statusListIndex":"#, #""statusListIndex":-"#),
                    (#""statusListIndex":7"#, #""statusListIndex":7.0"#), (#""statusListIndex":7"#, #""statusListIndex":7e0"#),
                ].randomElement(using: &rng)!
                bytes = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: form, with: other).utf8)
            }
            total += 1
            if Self.agree(bytes, seed: seed) { read += 1 }
        }
        // The one pass must also be the common path, or this test exercises nothing.
        #expect(read * 10 > total, "seed \(seed): the one pass read only \(read) of \(total) payloads")
    }

    /// Checks the two paths on `bytes`; whether the one pass read them (or threw).
    @discardableResult
    static func agree(_ bytes: [UInt8], seed: UInt64 = 0) -> Bool {
        let general = general(bytes)
        do throws(VellumError) {
            guard let fast = try IssuePayload(plainCanonical: bytes) else { return false }
            #expect((try? general.get()) == fast, "seed \(seed): the one pass read \(String(decoding: bytes, as: UTF8.self)), the general path \(general)")
            #expect(fast.canonicalBytes == bytes, "seed \(seed): the writer writes \(String(decoding: fast.canonicalBytes, as: UTF8.self)) for \(String(decoding: bytes, as: UTF8.self))")
        } catch {
            guard case .failure(let refused) = general else {
                Issue.record("seed \(seed): the one pass refused what the general path reads: \(String(decoding: bytes, as: UTF8.self))")
                return true
            }
            #expect(refused.message == error.message, "seed \(seed): \(String(decoding: bytes, as: UTF8.self))")
        }
        return true
    }

    @Test("bytes that are not UTF-8, a character cut short, -0, a validUntil that is a number: the general path decides")
    func hostileForms() throws {
        let canonical = Self.sample(validUntil: nil).json.canonicalBytes
        let name = Array(#""name":"Course 7""#.utf8)
        let at = try #require(canonical.firstRange(of: name))
        for inside: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0x43, 0xC3], [0xFF]] {
            var bytes = canonical
            bytes.replaceSubrange(at, with: Array(#""name":""#.utf8) + inside + [0x22])
            #expect(Self.agree(bytes) == false, "the one pass read \(inside)")
            #expect(throws: VellumError.self) { try EntryPayload(kind: .issue, bytes: bytes) }
        }
        let text = String(decoding: canonical, as: UTF8.self)
        for (form, other) in [(#""statusListIndex":7"#, #""statusListIndex":-0"#), (#""validFrom""#, #""validUntil":5,"validFrom""#)] {
            let bytes = Array(text.replacingOccurrences(of: form, with: other).utf8)
            #expect(bytes != canonical && Self.agree(bytes) == false)
        }
        #expect(Self.agree(canonical))
    }

    static func sample(validUntil: String?) -> IssuePayload {
        IssuePayload(
            credentialID: "urn:uuid:0f7c6a52-5d2b-4a57-9a43-1c1c1e6f0a11", digest: String(repeating: "ab", count: 32),
            issuer: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", achievementID: "urn:uuid:a",
            achievementName: "Course 7", achievementType: "Badge", validFrom: "2026-01-01T00:00:00Z",
            validUntil: validUntil, statusListIndex: 7, subjectCommitment: String(repeating: "cd", count: 32))
    }

    @Test("what a writer produces takes the one pass, with and without validUntil, in any script")
    func writersForm() throws {
        for until in [nil, "2031-01-01T00:00:00Z"] {
            var payload = Self.sample(validUntil: until)
            payload.achievementName = "Intro to Étude 😀 \u{2028}"
            #expect(try IssuePayload(plainCanonical: payload.json.canonicalBytes) == payload)
            #expect(payload.canonicalBytes == payload.json.canonicalBytes)
        }
    }
}
