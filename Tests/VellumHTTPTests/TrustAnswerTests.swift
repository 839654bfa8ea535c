import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VellumCore
import VellumHTTP
import VellumNode

/// The trust path a campus's status answers carry is kept per issuer and authority
/// (`RegistryCache`): a document that changes the path must show in the next answer, on the
/// node and over HTTP, although the credential's authority stays the same.
@Suite("Trust answers follow the federation's documents")
struct TrustAnswerTests {
    @Test("a compromise cut through the issue keeps the credential counting, and its answers then carry the cut as evidence")
    func cutShowsInTheNextAnswer() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-trust-\(UUID().uuidString)").path
        defer { for dir in [base, base + ".org"] { try? FileManager.default.removeItem(atPath: dir) } }
        _ = try OrgDirectory.create(at: base + ".org", name: "Test University")
        let org = OrgDirectory(path: base + ".org")
        let genesis = Genesis(name: "Test Federation", threshold: 1, founders: [try org.events()[0].org])
        var document = FederationDocument.genesis(genesis, events: [])
        if case .organization(let log) = try org.append(.endorsement(digest: genesis.digest)) {
            document = document.replacingEvents(of: log[0].org, with: log)
        }
        let campus = try Node.create(at: base, name: "Campus", baseURL: "https://campus.example.edu", federation: document)
        let delegation = try campus.publish(try org.append(.delegation(Delegation(feed: campus.feed, transport: campus.transport.publicKey, endpoint: nil, until: nil))))
        let credential = try await campus.issue(CredentialRequest(subject: "did:example:bob", achievementName: "Networks"))
        let issued = try #require(try campus.store.heads()[campus.feed])
        let genesisEntry = try #require(try campus.store.entry(feed: campus.feed, seq: 1)).id  // `Node.create` publishes the genesis
        let accepted = delegation.id

        let (id, dir) = (credential.id, base)
        try await Application(router: try VellumAPI(dataPath: base, registry: testRegistry).router()).test(.router) { raw in
            let client = Client(client: raw)
            let node = try Node.open(at: dir)  // the CLI's view, next to the HTTP service's own reader
            var cut: EntryID?
            for round in 0..<4 {  // each path twice: the second answer is the kept one
                if round == 2 {
                    cut = try node.publish(
                        try org.append(.undelegation(Undelegation(feed: node.feed, reason: .compromised, through: issued.seq, entry: issued.id)))
                    ).id
                }
                let answer = try await client.get("/v1/credentials/\(id)/status")
                #expect(answer.status == .ok && answer.json["status"] == "active" && answer.json["trust"]?["trusted"] == true)
                let http = answer.json["trust"]?["evidence"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
                let trust = try #require(try node.status(of: id).trust)
                // The genesis and the delegation accepted; after the cut, the cut too.
                let path = [genesisEntry, accepted] + (cut.map { [$0] } ?? [])
                #expect(trust.trusted && trust.evidence.map(\.id) == path)
                #expect(http == path.map(\.hex))
            }
        }
    }
}
