@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore
import VellumTestSupport

/// `OpenBadges.issue` writes a credential's canonical bytes directly, member by member. They
/// must be exactly the JCS form of the document Open Badges 3.0 describes, built here the
/// plain way, as a JSON tree, for any text a registrar can give, or a verifier that
/// canonicalizes what it parsed would not find the signature valid.
@Suite("Credential bytes written directly")
struct CredentialBytesTests {
    /// Text with what JCS escapes or leaves alone: quotes, backslashes, controls, non-ASCII,
    /// characters outside the BMP, U+2028.
    static func text(_ rng: inout SeededGenerator) -> String {
        let pieces = ["a", "Z", " ", "\"", "\\", "\n", "\t", "\u{01}", "\u{1F}", "\u{7F}", "é", "ß", "\u{2028}", "😀", "中", "</", "&", "x y"]
        return "A" + (0..<Int.random(in: 0...12, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
    }

    /// The document as the spec reads, as a tree.
    static func expected(_ request: CredentialRequest, _ context: IssuanceContext, id: String, subject: String) -> JSON {
        func status(_ purpose: String) -> JSON {
            let list = OpenBadges.statusListURL(base: context.statusListBaseURL, issuer: context.issuer, purpose: purpose, index: context.statusListIndex)
            let index = String(context.statusListIndex % OpenBadges.statusListSize)
            return ["id": .string("\(list)#\(index)"), "type": "BitstringStatusListEntry", "statusPurpose": .string(purpose),
                    "statusListIndex": .string(index), "statusListCredential": .string(list)]
        }
        var issuer: [String: JSON] = ["id": .string(context.issuer.did), "type": ["Profile"], "name": .string(context.issuerName)]
        if let parent = context.parentOrg { issuer["parentOrg"] = ["id": .string(parent.id), "type": ["Profile"], "name": .string(parent.name)] }
        var document: [String: JSON] = [
            "@context": [.string(OpenBadges.vcContext), .string(OpenBadges.obContext)],
            "id": .string(id),
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": .object(issuer),
            "validFrom": .string(context.validFrom.rfc3339),
            "name": .string(request.achievementName),
            "credentialSubject": [
                "id": .string(subject),
                "type": ["AchievementSubject"],
                "achievement": [
                    "id": .string(OpenBadges.achievementID(issuer: context.issuer, type: request.achievementType, name: request.achievementName)),
                    "type": ["Achievement"],
                    "achievementType": .string(request.achievementType),
                    "name": .string(request.achievementName),
                    "description": .string(request.description ?? request.achievementName),
                    "criteria": ["narrative": .string(request.criteria ?? "Awarded by \(context.issuerName) to learners who earned \(request.achievementName).")],
                ],
            ],
            "credentialStatus": [status("revocation"), status("suspension")],
        ]
        if let until = request.validUntil { document["validUntil"] = .string(until.rfc3339) }
        return .object(document)
    }

    @Test("the bytes are the JCS form of the document the spec describes, with a proof that verifies, for any text", arguments: propertySeeds)
    func sameAsTheTree(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let key = Curve25519.Signing.PrivateKey()
        let did = try DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
        for round in 0..<50 {
            let validFrom = Timestamp(millisecondsSinceEpoch: Int64.random(in: 1_600_000_000_000...1_900_000_000_000, using: &rng))
            let (subject, subjectURI) = Bool.random(using: &rng)
                ? ("student\(round)@example.edu", "mailto:student\(round)@example.edu") : ("did:example:\(round)", "did:example:\(round)")
            let request = CredentialRequest(
                subject: subject,
                achievementName: Self.text(&rng), achievementType: ["MicroCredential", "Badge", "ext:Custom\"Type"].randomElement(using: &rng)!,
                description: Bool.random(using: &rng) ? Self.text(&rng) : nil, criteria: Bool.random(using: &rng) ? Self.text(&rng) : nil,
                validUntil: Bool.random(using: &rng) ? Timestamp(millisecondsSinceEpoch: validFrom.millisecondsSinceEpoch + 86_400_000) : nil)
            let context = IssuanceContext(
                issuer: did, issuerName: Self.text(&rng), credentialRandom: (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) },
                subjectSalt: Array(repeating: 1, count: 16), validFrom: validFrom, statusListIndex: Int.random(in: 0...1_000_000, using: &rng),
                statusListBaseURL: Bool.random(using: &rng) ? "https://u.example/" : "https://u.example/a\"b",
                parentOrg: Bool.random(using: &rng) ? ("did:example:org", Self.text(&rng)) : nil)
            let issued = try OpenBadges.issue(request, context: context, key: key)
            let note = "seed \(seed) round \(round)"
            let parsed = try JSON(parsing: issued.canonicalDocument)
            #expect(parsed.canonicalBytes == issued.canonicalDocument, "\(note): the bytes are not canonical")
            #expect(parsed.removing("proof") == Self.expected(request, context, id: issued.id, subject: subjectURI), "\(note): another document")
            #expect(issued.subject == subjectURI, "\(note)")
            let proof = try DataIntegrity.verify(parsed)
            #expect(proof.signer == did && proof.created == validFrom.rfc3339 && proof.proofPurpose == "assertionMethod", "\(note)")
            #expect(issued.payload.digest == Hex.encode(SHA256.hash(data: issued.canonicalDocument)), "\(note)")
        }
    }
}
