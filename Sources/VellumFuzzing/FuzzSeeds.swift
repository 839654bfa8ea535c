@preconcurrency import Crypto
import VellumCore
import VellumNode

/// The starting corpus (`vellum-fuzz --seeds DIR`, committed as Fuzz/corpus): well-formed
/// inputs built with the ledger's own code from fixed keys, so libFuzzer starts from inputs
/// that get past the first checks. Deterministic but for the random parts of a credential.
public enum FuzzSeeds {
    public static func make() throws -> [String: [[UInt8]]] {
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
        let next = try Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 8, count: 32))
        let did = try DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
        let now = Timestamp(millisecondsSinceEpoch: 1_790_000_000_000)

        let context = IssuanceContext(
            issuer: did, issuerName: "Fuzz University", credentialRandom: [UInt8](repeating: 1, count: 16),
            subjectSalt: [UInt8](repeating: 2, count: 16), validFrom: now, statusListIndex: 3,
            statusListBaseURL: "http://127.0.0.1:8080")
        let request = CredentialRequest(
            subject: "learner@example.edu", achievementName: "Data Structures", achievementType: "Badge",
            description: "Passed", criteria: "Exam", validUntil: Timestamp(millisecondsSinceEpoch: 1_900_000_000_000))
        let credential = try OpenBadges.issue(request, context: context, key: key)
        let presentation = try DataIntegrity.sign(
            ["@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiablePresentation"], "holder": .string(did.did),
             "verifiableCredential": [credential.document]],
            options: .init(verificationMethod: did.did + "#" + did.multibase, created: "2026-10-01T00:00:00Z",
                           proofPurpose: "authentication", challenge: "c", domain: "d"),
            with: key)

        var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
        let entries = writer.append(
            [(.issue, .issue(credential.payload)), (.revoke, .status(StatusPayload(credentialID: credential.id, reason: "fuzz")))],
            now: now
        ).map(\.verified.entry)
        let head = FeedHead(feed: entries[1].feed, seq: entries[1].seq, id: entries[1].id)
        let messages: [SyncMessage] = [
            .heads([head]), .want([WantRange(feed: head.feed, fromSeq: 0, limit: 10)]), .entries(entries),
            .error(code: 2, message: "refused"), .summary(HeadsSummary([head])), .headsIn(buckets: 1 << 3, [head]),
        ]

        let inception = try OrgEvent.make(
            org: nil, seq: 0, prev: nil,
            body: .inception(name: "Fuzz University", key: did, next: Bytes32(Array(SHA256.hash(data: next.publicKey.rawRepresentation)))!),
            key: key)
        let delegation = try OrgEvent.make(
            org: inception.org, seq: 1, prev: inception.digest,
            body: .delegation(Delegation(feed: head.feed, transport: String(repeating: "b", count: 40), endpoint: "tcp://127.0.0.1:1", until: nil)),
            key: key)
        let organization = FederationDocument.organization([inception, delegation])
        let genesis = FederationDocument.genesis(Genesis(name: "Fuzz Federation", threshold: 1, founders: [inception.org]), events: [inception])

        let export = ([#"{"format":"vellum-export","version":1}"#] + entries.map(\.json.canonicalString)
            + [#"{"end":true,"entries":2}"#]).joined(separator: "\n") + "\n"
        let list = StatusListName(issuer: did, purpose: "revocation", number: 0)
        func json(_ value: JSON) -> [UInt8] { value.canonicalBytes }
        func text(_ value: String) -> [UInt8] { Array(value.utf8) }
        return [
            "wire": messages.map { message in message.frames(requestID: 9).flatMap { [UInt8($0.count >> 8), UInt8($0.count & 0xFF)] + $0 } },
            "entry": entries.map(\.wireBytes),
            "json": [json(credential.document), text(#"{"a":[1,2.5e-7,-0,"\u00e9\ud83d\ude00",true,null,{}]}"#), text("1E400"), text(#""\u0000""#)],
            "credential": [credential.canonicalDocument, json(credential.document.removing("proof"))],
            "presentation": [json(presentation)],
            "csv": [text("subject,achievement,achievement-type,valid-until\nada@example.edu,Algebra,Badge,2030-01-01\n\"b@x.org\",\"A, \"\"B\"\"\",Degree,\r\n")],
            "export": [text(export)],
            "federation": [json(organization.json), json(genesis.json), json(.string(did.did))],
            "statuslist": [text(list.description)],
        ]
    }
}
