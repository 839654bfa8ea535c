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
    /// with one credential issued; `genesis` creates other nodes of the federation.
    static func campus(at base: String) async throws -> (
        org: OrgDirectory, campus: Node, delegation: LinkedEntry, credential: IssuedCredential, genesis: FederationDocument
    ) {
        let (org, genesis) = try testFederation(university: base + ".org")
        let campus = try Node.create(at: base, name: "Campus", baseURL: "https://campus.example.edu", federation: genesis)
        let delegation = try campus.publish(
            try org.append(.delegation(Delegation(feed: campus.feed, transport: campus.transport.publicKey, endpoint: nil, until: nil))))
        let credential = try await campus.issue(CredentialRequest(subject: "did:example:bob", achievementName: "Networks"))
        return (org, campus, delegation, credential, genesis)
    }

    @Test("a compromise cut through the issue keeps the credential counting, and its answers then carry the cut as evidence")
    func cutShowsInTheNextAnswer() async throws {
        let base = Self.scratch()
        defer { for dir in [base, base + ".org"] { try? FileManager.default.removeItem(atPath: dir) } }
        let (org, campus, delegation, credential, _) = try await Self.campus(at: base)
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
        let (org, campus, delegation, credential, _) = try await Self.campus(at: base)
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

    /// Stores `entries` on `node` as gossip does (`importVerified`, no file import's refusals).
    static func gossip(_ entries: [Entry], to node: Node) async throws {
        _ = try node.importVerified(try await EntryVerifier.verifyContents(entries))
    }

    /// The status and trust of `id` on `node` and over `client` (two readings each: the second
    /// is the kept one), checked equal; the trust path without its first entry (a replica holds
    /// the genesis twice, its own copy and the campus's, and the first published counts).
    static func answers(_ id: String, node: Node, client: Client) async throws -> [(status: String?, trusted: Bool?, reason: String?, path: [String])] {
        var out: [(String?, Bool?, String?, [String])] = []
        for _ in 0..<2 {
            let http = try await client.get("/v1/credentials/\(id)/status").json
            let report = try node.status(of: id)
            let path = report.trust?.evidence.dropFirst().map(\.id.hex) ?? []
            #expect(http["status"]?.stringValue == report.status.rawValue && http["trust"]?["trusted"]?.boolValue == report.trust?.trusted)
            #expect(http["trust"]?["evidence"]?.arrayValue?.dropFirst().compactMap { $0["id"]?.stringValue } == path)
            out += [(report.status.rawValue, report.trust?.trusted, report.trust?.reason, path), (http["status"]?.stringValue, http["trust"]?["trusted"]?.boolValue, http["trust"]?["reason"]?.stringValue, path)]
        }
        return out
    }

    @Test("a compromise cut that a replica hears of by gossip after it kept the campus's answers: the revocation the key wrote after the cut stops counting, the credential it issued after the cut reads revoked, on the node and over HTTP")
    func cutArrivingByGossip() async throws {
        let base = Self.scratch()
        defer { for dir in [base, base + ".org", base + "-replica"] { try? FileManager.default.removeItem(atPath: dir) } }
        let (org, campus, delegation, credential, genesis) = try await Self.campus(at: base)
        let issued = try #require(try campus.store.heads()[campus.feed])
        // The key, stolen, writes on: a credential, and the revocation of the honest one.
        let late = try await campus.issue(CredentialRequest(subject: "did:example:carol", achievementName: "Networks"))
        try campus.changeStatus(.revoke, of: credential.id, reason: "written with the stolen key")
        let log = try campus.store.entries(feed: campus.feed, fromSeq: 1, limit: 100)
        // The university cuts it through the honest issue; a feed of no campus carries the cut.
        let cut = try org.append(.undelegation(Undelegation(feed: campus.feed, reason: .compromised, through: issued.seq, entry: issued.id)))
        var carrier = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let carried = carrier.append([(.document, .document(cut))], now: campus.now()).map(\.entry)
        _ = try Node.create(at: base + "-replica", name: "Replica", baseURL: "https://replica.example.edu", federation: genesis)

        try await Application(router: try VellumAPI(dataPath: base + "-replica", registry: testRegistry).router()).test(.router) { raw in
            let client = Client(client: raw)
            let replica = try Node.open(at: base + "-replica")
            try await Self.gossip(log, to: replica)
            for answer in try await Self.answers(credential.id, node: replica, client: client) {
                #expect(answer.status == "revoked" && answer.trusted == true && answer.path == [delegation.id.hex])
            }
            for answer in try await Self.answers(late.id, node: replica, client: client) {
                #expect(answer.status == "active" && answer.trusted == true && answer.path == [delegation.id.hex])
            }
            try await Self.gossip(carried, to: replica)
            for answer in try await Self.answers(credential.id, node: replica, client: client) {
                #expect(answer.status == "active" && answer.trusted == true && answer.path == [delegation.id.hex, carried[0].id.hex])
            }
            for answer in try await Self.answers(late.id, node: replica, client: client) {
                #expect(answer.status == "revoked" && answer.trusted == false && answer.reason?.contains("compromised") == true)
            }
        }
    }

    @Test("a sibling campus's revocation adds its delegation to that one answer only: the campus's kept trust path, given with its other credentials, stays without it")
    func siblingDelegationStaysInItsAnswer() async throws {
        let base = Self.scratch()
        defer { for dir in [base, base + ".org", base + "-b"] { try? FileManager.default.removeItem(atPath: dir) } }
        let (org, campus, delegation, credential, genesis) = try await Self.campus(at: base)
        let other = try await campus.issue(CredentialRequest(subject: "did:example:carol", achievementName: "Networks"))
        let sibling = try Node.create(at: base + "-b", name: "Campus B", baseURL: "https://b.example.edu", federation: genesis)
        let siblingDelegation = try sibling.publish(
            try org.append(.delegation(Delegation(feed: sibling.feed, transport: sibling.transport.publicKey, endpoint: nil, until: nil))))
        try await Self.gossip(try campus.store.entries(feed: campus.feed, fromSeq: 1, limit: 100), to: sibling)
        try sibling.changeStatus(.revoke, of: credential.id, reason: "revoked by the sibling campus")

        try await Application(router: try VellumAPI(dataPath: base + "-b", registry: testRegistry).router()).test(.router) { raw in
            let client = Client(client: raw)
            let node = try Node.open(at: base + "-b")
            for id in [credential.id, other.id, credential.id] {
                let revoked = id == credential.id
                for answer in try await Self.answers(id, node: node, client: client) {
                    #expect(answer.status == (revoked ? "revoked" : "active") && answer.trusted == true)
                    #expect(answer.path == [delegation.id.hex] + (revoked ? [siblingDelegation.id.hex] : []))
                }
            }
        }
    }
}
