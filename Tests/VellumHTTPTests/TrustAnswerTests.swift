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
    static func scratch() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("vellum-trust-\(UUID().uuidString)").path }

    /// A campus of a one-university federation at `base` (its university at `base + ".org"`),
    /// with one credential issued.
    static func campus(at base: String) async throws -> (org: OrgDirectory, campus: Node, delegation: LinkedEntry, credential: IssuedCredential) {
        let (org, genesis) = try testFederation(university: base + ".org")
        let campus = try Node.create(at: base, name: "Campus", baseURL: "https://campus.example.edu", federation: genesis)
        let delegation = try campus.publish(
            try org.append(.delegation(Delegation(feed: campus.feed, transport: campus.transport.publicKey, endpoint: nil, until: nil))))
        let credential = try await campus.issue(CredentialRequest(subject: "did:example:bob", achievementName: "Networks"))
        return (org, campus, delegation, credential)
    }

    @Test("a compromise cut through the issue keeps the credential counting, and its answers then carry the cut as evidence")
    func cutShowsInTheNextAnswer() async throws {
        let base = Self.scratch()
        defer { for dir in [base, base + ".org"] { try? FileManager.default.removeItem(atPath: dir) } }
        let (org, campus, delegation, credential) = try await Self.campus(at: base)
        let issued = try #require(try campus.store.heads()[campus.feed])
        let genesisEntry = try #require(try campus.store.entry(feed: campus.feed, seq: 1)).id  // `Node.create` publishes the genesis

        try await Application(router: try VellumAPI(dataPath: base, registry: testRegistry).router()).test(.router) { raw in
            let client = Client(client: raw)
            let node = try Node.open(at: base)  // the CLI's view, next to the HTTP service's own reader
            var cut: EntryID?
            for round in 0..<4 {  // each path twice: the second answer is the kept one
                if round == 2 {
                    cut = try node.publish(
                        try org.append(.undelegation(Undelegation(feed: node.feed, reason: .compromised, through: issued.seq, entry: issued.id)))
                    ).id
                }
                let answer = try await client.get("/v1/credentials/\(credential.id)/status")
                #expect(answer.status == .ok && answer.json["status"] == "active" && answer.json["trust"]?["trusted"] == true)
                let http = answer.json["trust"]?["evidence"]?.arrayValue?.compactMap { $0["id"]?.stringValue }
                let trust = try #require(try node.status(of: credential.id).trust)
                // The genesis and the delegation accepted; after the cut, the cut too.
                let path = [genesisEntry, delegation.id] + (cut.map { [$0] } ?? [])
                #expect(trust.trusted && trust.evidence.map(\.id) == path)
                #expect(http == path.map(\.hex))
            }
        }
    }

    @Test("a trust answer read inside a write transaction that is rolled back is not kept for the next document at its count")
    func rolledBackDocumentIsNotKept() async throws {
        let base = Self.scratch()
        defer { for dir in [base, base + ".org", base + ".fork"] { try? FileManager.default.removeItem(atPath: dir) } }
        let (org, campus, delegation, credential) = try await Self.campus(at: base)
        let issued = try #require(try campus.store.heads()[campus.feed])
        let genesisEntry = try #require(try campus.store.entry(feed: campus.feed, seq: 1)).id
        // A cut signed on a copy of the university's log, carried by some other feed and read
        // in a transaction that never commits; then another document takes its place in the log.
        try FileManager.default.copyItem(atPath: base + ".org", toPath: base + ".fork")
        let cut = try OrgDirectory(path: base + ".fork").append(
            .undelegation(Undelegation(feed: campus.feed, reason: .compromised, through: issued.seq, entry: issued.id)))
        var carrier = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        struct RolledBack: Error {}
        #expect(throws: RolledBack.self) {
            try campus.store.transaction {
                try campus.store.append(carrier.append([(.document, .document(cut))], now: campus.now()))
                #expect(try campus.status(of: credential.id).trust?.evidence.count == 3)  // the cut, uncommitted
                throw RolledBack()
            }
        }
        let sibling = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0)).feed
        try campus.publish(try org.append(.delegation(Delegation(feed: sibling, transport: campus.transport.publicKey, endpoint: nil, until: nil))))
        for _ in 0..<2 {
            let trust = try #require(try campus.status(of: credential.id).trust)
            #expect(trust.trusted && trust.evidence.map(\.id) == [genesisEntry, delegation.id])
        }
    }
}
