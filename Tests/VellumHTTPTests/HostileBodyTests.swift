import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VellumCore
import VellumHTTP
import VellumNode

/// Bodies an outsider can send to the verify routes, each close to the 1 MiB limit, built to
/// make decoding super-linear or the answer huge. Each must get a 4xx or a not-verified answer,
/// quickly and small: a quadratic base58 decode of a 1 MiB proofValue takes minutes.
@Suite("HTTP verification against hostile bodies")
struct HostileBodyTests {
    static let size = 1_000_000

    /// `credential` with `value` set at `path` (object members only).
    static func setting(_ credential: JSON, _ path: [String], to value: JSON) -> JSON {
        guard let first = path.first else { return value }
        return credential.setting(first, to: setting(credential[first] ?? [:], Array(path.dropFirst()), to: value))
    }

    static func hostileBodies(_ credential: JSON) -> [(what: String, uri: String, body: [UInt8])] {
        let digits = String(repeating: "z", count: size)
        let bodies: [(String, String, JSON)] = [
            ("a 1 MB proofValue", "/v1/verify", setting(credential, ["proof", "proofValue"], to: .string("z" + digits))),
            ("a 1 MB did:key verificationMethod", "/v1/verify",
             setting(credential, ["proof", "verificationMethod"], to: .string("did:key:z6Mk" + digits))),
            ("a 1 MB did:key issuer", "/credentials/verify",
             ["verifiableCredential": setting(credential, ["issuer", "id"], to: .string("did:key:z6Mk" + digits))]),
            ("a 1 MB proofValue in a presentation's proof", "/presentations/verify",
             ["verifiablePresentation": ["type": ["VerifiablePresentation"], "verifiableCredential": [credential],
                                         "proof": credential["proof"]!.setting("proofValue", to: .string("z" + digits))]]),
            ("200,000 evidence items", "/v1/verify", credential.setting("evidence", to: .array(Array(repeating: 1, count: 200_000)))),
            ("400 credentials in one presentation", "/presentations/verify",
             ["presentation": ["type": ["VerifiablePresentation"], "verifiableCredential": .array(Array(repeating: credential, count: 400))]]),
        ]
        return bodies.map { ($0.0, $0.1, Array($0.2.canonicalString.utf8)) } + [
            ("arrays nested 500,000 deep", "/v1/verify", Array(String(repeating: "[", count: size / 2).utf8)),
            ("objects nested 100,000 deep", "/credentials/verify", Array(String(repeating: "{\"a\":", count: size / 5).utf8)),
            ("a number of 1,000,000 digits", "/v1/verify", Array(("{\"n\":1" + String(repeating: "7", count: size) + "}").utf8)),
            ("500,000 zeros in an array", "/credentials/verify", Array(("[" + String(repeating: "0,", count: size / 2) + "0]").utf8)),
        ]
    }

    /// What each body's answer must name: the limit that refused it before any decoding work.
    /// (How long each takes is measured by Scripts/bench, not here: a time bound fails on a busy
    /// machine and says nothing about why.)
    static let refusals: [String: String] = [
        "a 1 MB proofValue": "proofValue has 1000001 characters",
        "a 1 MB did:key verificationMethod": "characters is not an Ed25519 key",
        "a 1 MB did:key issuer": "no valid proof binds the issuer",  // compared, never decoded
        "a 1 MB proofValue in a presentation's proof": "proofValue has 1000001 characters",
        "200,000 evidence items": "more than 25000 values",
        "400 credentials in one presentation": "a node verifies at most 100",
        "arrays nested 500,000 deep": "nesting deeper than 128",
        "objects nested 100,000 deep": "nesting deeper than 128",
        "a number of 1,000,000 digits": "is out of range",
        "500,000 zeros in an array": "more than 25000 values",
    ]

    @Test("each hostile body gets a small 4xx or not-verified answer naming the limit that refused it before decoding")
    func hostileBodies() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let root = try campus.node.digest()
        let bodies = Self.hostileBodies(campus.active.document)
        #expect(bodies.count == 10)
        for (what, _, body) in bodies { #expect(body.count <= VellumAPI.maxBody, "\(what) is over the body limit") }
        try await campus.withClient { client in
            for (what, uri, body) in bodies {
                let reply = try await client.post(uri, bytes: body)
                let refused = (400..<500).contains(reply.status.code)
                #expect(refused || reply.json["verified"] == false, "\(what): \(reply.status.code) \(reply.text.prefix(300))")
                #expect(reply.status.code < 500, "\(what): \(reply.text.prefix(300))")
                // The answer names the problem without multiplying the megabyte: it repeats at
                // most the credential's own id or issuer once, as every report does.
                #expect(reply.text.utf8.count < body.count + 64 << 10, "\(what): a \(reply.text.utf8.count)-byte answer")
                let reason = Self.refusals[what]!
                #expect(reply.text.contains(reason), "\(what): no '\(reason)' in \(reply.text.prefix(300))")
            }
        }
        #expect(try campus.node.digest() == root)
    }

    @Test("a credential's answer is still verified after hostile requests")
    func stillServes() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            for (_, uri, body) in Self.hostileBodies(campus.active.document).prefix(3) { _ = try await client.post(uri, bytes: body) }
            let good = try await client.post("/v1/verify", campus.active.document.canonicalString)
            #expect(good.json["verified"] == true)
        }
    }
}
