@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore

@Suite("VC 2.0 and Open Badges 3.0")
struct OpenBadgesTests {
    static let fixtures = "openbadges3/1edtech-validator-ob30/"
    static let now = Timestamp(parsing: "2026-11-27T10:00:00Z")!

    static func issue(_ request: CredentialRequest, key: Curve25519.Signing.PrivateKey = .init()) throws -> IssuedCredential {
        let did = try DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
        let context = IssuanceContext(
            issuer: did, issuerName: "Example University", credentialRandom: Array(repeating: 7, count: 16),
            subjectSalt: Array(repeating: 1, count: 16), validFrom: now, statusListIndex: 131_073,
            statusListBaseURL: "https://vellum.example.edu")
        return try OpenBadges.issue(request, context: context, key: key)
    }

    /// (simple-noproof.json is left out: it has no achievement, which Open Badges 3.0 requires.)
    @Test("the valid 1EdTech fixtures parse and pass the structural checks", arguments: [
        "simple.json", "complete.json", "simple-did-key-method.json", "simple-did-web-method.json",
        "simple-eddsa-2022.json", "simple-multiple-proofs.json", "credential-status-revoked.json",
        "simple_v1.json", "complete_v1.json", "simple-context-alias.json", "simple-context-version.json",
    ])
    func validFixtures(file: String) throws {
        let credential = try Vectors.json(Self.fixtures + file)
        #expect(OpenBadgeValidator.problems(in: credential) == [])
    }

    /// Each deliberately broken fixture, with the check that must reject it and a word its reason names.
    static let brokenFixtures: [(String, String, String)] = [
        ("simple-err-context.json", "structure", "@context"),
        ("simple-err-credential-subject-achievement-result-description-type.json", "structure", "resultDescription"),
        ("simple-err-credential-subject-identifier-type.json", "structure", "identifier"),
        ("simple-err-credential-subject-profile-type.json", "structure", "source"),
        ("simple-err-credential-subject-result-type.json", "structure", "result"),
        ("simple-err-credential-subject-type.json", "structure", "AchievementSubject"),
        ("simple-err-evidence-type.json", "structure", "evidence"),
        ("simple-err-issuer-otheridentifier-type.json", "structure", "otherIdentifier"),
        ("simple-err-issuer-parentorg-type.json", "structure", "parentOrg"),
        ("simple-err-issuer-type.json", "structure", "issuer.type"),
        ("simple-err-issuer.json", "structure", "issuer"),
        ("simple-err-type.json", "structure", "OpenBadgeCredential"),
        ("simple-err-issued.json", "validity", "not valid before"),
        ("simple-err-expired.json", "validity", "expired"),
        ("simple-err-proof-method.json", "proof", "cryptosuite"),
        ("simple-err-proof-value.json", "proof", "cryptosuite"),
        ("simple-err-proof-method-unknown-did-method.json", "proof", "cryptosuite"),
        ("simple-err-proof-method-unknown-scheme.json", "proof", "cryptosuite"),
        ("simple-err-proof-method-no-scheme.json", "proof", "cryptosuite"),
    ]

    @Test("each simple-err fixture is rejected with a reason", arguments: brokenFixtures)
    func errFixtures(file: String, check: String, reason: String) throws {
        let credential = try Vectors.json(Self.fixtures + file)
        let report = CredentialVerifier.verify(credential, record: nil, at: Self.now)
        #expect(!report.verified)
        let failed = try #require(report.checks.first { $0.name == check })
        #expect(!failed.ok, "\(file): \(check) passed")
        #expect(failed.detail.contains(reason), "\(file): \(failed.detail)")
    }

    @Test("every simple-err fixture in the folder is covered above")
    func allErrFixturesCovered() throws {
        let files = Set(try Vectors.files(Self.fixtures).filter { $0.hasPrefix("simple-err-") })
        #expect(files == Set(Self.brokenFixtures.map(\.0)))
        #expect(files.count == 19)
    }

    @Test("an issued credential is a complete OpenBadgeCredential with two status entries")
    func issued() throws {
        let issued = try Self.issue(.init(subject: "alice@example.edu", achievementName: "Intro to Rust", validUntil: Timestamp(parsing: "2030-01-01T00:00:00Z")))
        let doc = issued.document
        #expect(OpenBadgeValidator.problems(in: doc) == [])
        #expect(doc["type"]!.typeNames == ["VerifiableCredential", "OpenBadgeCredential"])
        #expect(doc["@context"]!.arrayValue!.map(\.stringValue!) == [OpenBadges.vcContext, OpenBadges.obContext])
        #expect(doc["credentialSubject"]!["id"] == "mailto:alice@example.edu")
        let achievement = doc["credentialSubject"]!["achievement"]!
        for field in ["id", "type", "name", "description", "criteria", "achievementType"] { #expect(achievement[field] != nil) }
        let status = doc["credentialStatus"]!.arrayValue!
        #expect(status.map { $0["statusPurpose"]!.stringValue! } == ["revocation", "suspension"])
        for entry in status {
            #expect(entry["type"] == "BitstringStatusListEntry")
            #expect(entry["statusListIndex"] == "1")  // 131,073 is index 1 of list 1
            #expect(entry["statusListCredential"]!.stringValue!.hasSuffix("-1"))
        }
        let proof = try DataIntegrity.verify(doc)
        #expect(proof.signer.did == doc["issuer"]!["id"]!.stringValue!)
        #expect(issued.payload.digest == OpenBadges.digest(doc))
        #expect(!issued.payload.json.canonicalString.contains("alice"))
    }

    @Test("credential ids are UUIDv7: version 7, RFC 9562 variant, ordered by issue time")
    func uuidV7() {
        let early = OpenBadges.uuidV7(time: Timestamp(parsing: "2026-01-01T00:00:00Z")!, random: Array(repeating: 0xFF, count: 10))
        let late = OpenBadges.uuidV7(time: Timestamp(parsing: "2026-01-01T00:00:00.001Z")!, random: Array(repeating: 0, count: 10))
        #expect(early == "urn:uuid:019b76da-a800-7fff-bfff-ffffffffffff")
        #expect(late.hasPrefix("urn:uuid:019b76da-a801-7"))
        #expect(early < late)
    }

    @Test("bad requests are refused before signing", arguments: [
        CredentialRequest(subject: "", achievementName: "X"),
        CredentialRequest(subject: "alice smith", achievementName: "X"),
        CredentialRequest(subject: "did:example:1", achievementName: " "),
        CredentialRequest(subject: "did:example:1", achievementName: "X", achievementType: "Trophy"),
        CredentialRequest(subject: "did:example:1", achievementName: "X", validUntil: Timestamp(parsing: "2020-01-01T00:00:00Z")),
    ])
    func badRequests(request: CredentialRequest) {
        #expect(throws: VellumError.self) { try Self.issue(request) }
    }

    @Test("verification of an issued credential against its ledger record")
    func verifyAgainstRecord() throws {
        let issued = try Self.issue(.init(subject: "did:example:bob", achievementName: "Databases"))
        let fact = IssueFact(entry: .zero, feed: .zero, seq: 1, hlc: HLC(rawValue: 1), issuer: issued.payload.issuer, validUntil: nil)
        let active = LedgerRecord(payload: issued.payload, resolution: CredentialMerge.resolve(CredentialKey(feed: .zero, id: issued.id), issues: [fact], changes: []))
        #expect(CredentialVerifier.verify(issued.document, record: active, at: Self.now).verified)
        let revoked = LedgerRecord(payload: issued.payload, resolution: CredentialMerge.resolve(
            CredentialKey(feed: .zero, id: issued.id), issues: [fact], changes: [StatusFact(entry: .zero, feed: .zero, seq: 2, hlc: HLC(rawValue: 2), kind: .revoke)]))
        let report = CredentialVerifier.verify(issued.document, record: revoked, at: Self.now)
        #expect(!report.verified && report.status == .revoked)
        let tampered = issued.document.setting("name", to: "Advanced Databases")
        let tamperedReport = CredentialVerifier.verify(tampered, record: active, at: Self.now)
        #expect(tamperedReport.checks.filter { !$0.ok }.map(\.name) == ["proof", "issuer", "ledger"])
    }

    @Test("timestamps parse strictly and print in UTC", arguments: [
        ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"), ("2026-11-27T10:00:00.123+01:00", "2026-11-27T09:00:00Z"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"), ("2024-02-29T00:00:00z", "2024-02-29T00:00:00Z"),
    ])
    func timestamps(input: String, output: String) {
        #expect(Timestamp(parsing: input)?.rfc3339 == output)
    }

    @Test("invalid timestamps are rejected", arguments: ["2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-27", "2026-11-27T25:00:00Z", "2026-11-27T10:00:00", "yesterday"])
    func badTimestamps(input: String) {
        #expect(Timestamp(parsing: input) == nil)
    }

    @Test("a subject with white space inside, ASCII or not, is refused; one without is taken", arguments: [
        ("did:example:a b", false), ("did:example:a\tb", false), ("did:example:a\u{0B}b", false), ("a\u{0C}b@example.edu", false),
        ("did:example:a\u{A0}b", false), ("did:example:a\u{85}b", false), ("did:example:ünï\u{2003}code", false),
        ("did:example:ünïcode", true), ("student@example.edu", true), ("  did:example:trimmed\t", true),
    ])
    func subjectWhitespace(subject: String, taken: Bool) {
        let request = CredentialRequest(subject: subject, achievementName: "A")
        do {
            _ = try request.validated(validFrom: Self.now)
            #expect(taken, "\(subject.debugDescription) was taken")
        } catch {
            #expect(!taken && error.message.contains("whitespace"), "\(subject.debugDescription): \(error.message)")
        }
    }
}
