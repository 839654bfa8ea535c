import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VellumCore
import VellumHTTP
import VellumNode

/// Issue 8 over HTTP: a stranger's entries about the campus's credential ids, as an outsider
/// writes them from the public docs, change no answer about the campus's credentials.
@Suite("HTTP: answers about a credential belong to its issuer")
struct TakeoverRoutesTests {
    /// A fresh key's issue of `id` (stamped at 1 ms, so it sorts first) and a reinstate of it.
    static func strangerEntries(about id: String) -> (did: String, entries: [Entry]) {
        var writer = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        let did = writer.feed.didKey.did
        let payload = IssuePayload(
            credentialID: id, digest: String(repeating: "a", count: 64), issuer: did, achievementID: "urn:uuid:x",
            achievementName: "Forged", achievementType: "Badge", validFrom: "2026-01-01T00:00:00Z", validUntil: nil,
            statusListIndex: 0, subjectCommitment: String(repeating: "b", count: 64))
        let entries = writer.append(
            [(.issue, .issue(payload)), (.reinstate, .status(StatusPayload(credentialID: id)))], now: Timestamp(millisecondsSinceEpoch: 1))
        return (did, entries.map(\.entry))
    }

    /// A new node in the directory next to the campus's (`campus.dir + "-replica"`, which
    /// `Campus.remove` removes too), holding the campus's whole log and then `extra`.
    static func replica(of campus: Campus, adding extra: [Entry] = []) async throws -> Node {
        let replica = try Node.create(at: campus.dir + "-replica", name: "Replica", baseURL: "https://replica.example.edu")
        try await importLog(of: campus, into: replica, adding: extra)
        return replica
    }

    /// Imports the campus's whole log, then `extra`, into `node`.
    static func importLog(of campus: Campus, into node: Node, adding extra: [Entry] = []) async throws {
        var all: [Entry] = []
        try campus.node.store.forEachEntry { all.append($0) }
        _ = try await node.importEntries(all + extra)
    }

    @Test("on the issuer's node and on a replica: the revoked credential stays revoked; a bare id several feeds wrote is a 409")
    func takeoverOverHTTP() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let (strangerDID, forged) = Self.strangerEntries(about: campus.revoked.id)
        _ = try await campus.node.importEntries(forged)
        let campusDID = campus.node.did.did

        // A replica holding both feeds.
        let replica = try await Self.replica(of: campus)
        let replicaAPI = try VellumAPI(dataPath: replica.directory.path, registry: testRegistry)
        let document = campus.revoked.document.canonicalString

        let path = "/v1/credentials/\(campus.revoked.id)/status"
        try await campus.withClient { client in
            // The issuer's own node answers for its own credential.
            let own = try await client.get(path)
            #expect(own.status == .ok && own.json["status"] == "revoked" && own.json["issuer"]?.stringValue == campusDID)
            let verify = try await client.post("/v1/verify", document)
            #expect(verify.json["verified"] == false && verify.json["status"] == "revoked")
        }
        let app = Application(router: replicaAPI.router())
        try await app.test(.router) { raw in
            let client = Client(client: raw)
            let ambiguous = try await client.get(path)
            #expect(ambiguous.status == .conflict && ambiguous.json["code"] == "conflict")
            #expect(ambiguous.json["message"]?.stringValue?.contains(strangerDID) == true)
            let named = try await client.get(path + "?issuer=" + campusDID)
            #expect(named.status == .ok && named.json["status"] == "revoked")
            let theirs = try await client.get(path + "?issuer=" + strangerDID)
            #expect(theirs.status == .ok && theirs.json["status"] == "active" && theirs.json["issuer"]?.stringValue == strangerDID)
            let verify = try await client.post("/v1/verify", document)
            #expect(verify.json["verified"] == false && verify.json["status"] == "revoked")
            let badIssuer = try await client.get(path + "?issuer=did:key:nonsense")
            #expect(badIssuer.status == .badRequest)
            // `?at=` is answered by the CLI's query, which chooses the issuer alike.
            #expect(try await client.get(path + "?at=2100-01-01T00:00:00Z").status == .conflict)
        }
        // The CLI's answers (`vellum status` on either node).
        #expect(try campus.node.status(of: campus.revoked.id).issuer == campusDID)
        #expect(#expect(throws: VellumError.self) { try replica.status(of: campus.revoked.id) }?.code == .conflict)
        #expect(try replica.status(of: campus.revoked.id, issuer: strangerDID).status == .active)
    }

    @Test("an answer kept for a bare id is not given again once another feed writes that id: the replica then refuses it as ambiguous")
    func keptAnswerAndALaterStranger() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let replica = try await Self.replica(of: campus)
        let (strangerDID, forged) = Self.strangerEntries(about: campus.revoked.id)
        let path = "/v1/credentials/\(campus.revoked.id)/status"
        let api = try VellumAPI(dataPath: replica.directory.path, registry: testRegistry)  // one status cache across both sessions below
        try await Application(router: api.router()).test(.router) { raw in
            for _ in 0..<3 {  // read, read again and kept, then the kept one confirmed
                let before = try await Client(client: raw).get(path)
                #expect(before.status == .ok && before.json["status"] == "revoked")
            }
        }
        // The stranger's feed names the same id; the campus's feed does not move.
        _ = try await replica.importEntries(forged)
        try await Application(router: api.router()).test(.router) { raw in
            let client = Client(client: raw)
            let after = try await client.get(path)
            #expect(after.status == .conflict && after.json["message"]?.stringValue?.contains(strangerDID) == true)
            let named = try await client.get(path + "?issuer=" + campus.node.did.did)
            #expect(named.status == .ok && named.json["status"] == "revoked")
        }
        // On the campus's own node, its own credential is the one a bare id means, kept or not.
        try await campus.withClient { client in
            for _ in 0..<2 {  // kept from the second reading on
                let first = try await client.get(path)
                #expect(first.json["status"] == "revoked")
            }
        }
        _ = try await campus.node.importEntries(forged)
        try await campus.withClient { client in
            let own = try await client.get(path)
            #expect(own.status == .ok && own.json["status"] == "revoked" && own.json["issuer"]?.stringValue == campus.node.did.did)
        }
    }

    @Test("many strangers writing one id: a bare id is a 409 naming ten of them and counting all; the issuer named still gets its own answer")
    func manyStrangers() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let replica = try await Self.replica(of: campus, adding: (0..<12).flatMap { _ in Self.strangerEntries(about: campus.revoked.id).entries })
        let path = "/v1/credentials/\(campus.revoked.id)/status"
        let api = try VellumAPI(dataPath: replica.directory.path, registry: testRegistry)
        let campusDID = campus.node.did.did
        try await Application(router: api.router()).test(.router) { raw in
            let client = Client(client: raw)
            let ambiguous = try await client.get(path)
            let message = ambiguous.json["message"]?.stringValue ?? ""
            #expect(ambiguous.status == .conflict && message.contains("13 issuers") && message.hasSuffix("name the issuer (--issuer, or ?issuer=)"))
            #expect(message.components(separatedBy: "did:key:").count - 1 == 10)
            for _ in 0..<3 {  // read, read again and kept, then the kept one confirmed
                let named = try await client.get(path + "?issuer=" + campusDID)
                #expect(named.status == .ok && named.json["status"] == "revoked" && named.json["issuer"]?.stringValue == campusDID)
            }
        }
    }

    @Test("a node that numbered a stranger's feed before its own still answers a bare id with its own credential, the stranger's row read first")
    func strangerNumberedFirst() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-http-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = try Node.create(at: dir, name: "Campus", baseURL: "https://campus.example.edu")
        // The stranger's feed reaches the node before it writes anything: it is feed 1 here,
        // so its row of a shared id comes first in the credential table's order.
        var stranger = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0))
        func issue(_ id: String) -> [(EntryKind, EntryPayload)] {
            [(.issue, .issue(IssuePayload(
                credentialID: id, digest: String(repeating: "a", count: 64), issuer: stranger.feed.didKey.did, achievementID: "urn:uuid:x",
                achievementName: "Forged", achievementType: "Badge", validFrom: "2026-01-01T00:00:00Z", validUntil: nil,
                statusListIndex: 0, subjectCommitment: String(repeating: "b", count: 64)))), (.reinstate, .status(StatusPayload(credentialID: id)))]
        }
        let first = stranger.append(issue("urn:uuid:00000000-0000-4000-8000-000000000001"), now: Timestamp(millisecondsSinceEpoch: 1))
        _ = try await node.importEntries(first.map(\.entry))
        let own = try await node.issue(CredentialRequest(subject: "did:example:bob", achievementName: "Networks"))
        try node.changeStatus(.revoke, of: own.id, reason: "issued in error")
        let copy = stranger.append(issue(own.id), now: Timestamp(millisecondsSinceEpoch: 2))
        _ = try await node.importEntries(copy.map(\.entry))
        #expect(try node.store.issuersHeld(of: own.id).map(\.head.feed) == [stranger.feed, node.feed], "the stranger's row first")
        let api = try VellumAPI(dataPath: dir, registry: testRegistry)
        let (path, did) = ("/v1/credentials/\(own.id)/status", node.did.did)
        try await Application(router: api.router()).test(.router) { raw in
            for _ in 0..<3 {  // read, read again and kept, then the kept one confirmed
                let answer = try await Client(client: raw).get(path)
                #expect(answer.status == .ok && answer.json["status"] == "revoked" && answer.json["issuer"]?.stringValue == did)
            }
        }
        #expect(try node.status(of: own.id).issuer == did)  // the CLI's answer
        #expect(try node.status(of: own.id, issuer: stranger.feed.didKey.did).status == .active)
    }

    @Test("in a federation: a stranger's copy of the campus's id is refused whole as a file and, stored by gossip, changes no answer about the campus's credential on its node or a replica")
    func federatedStranger() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-http-\(UUID().uuidString)").path
        defer { for dir in [base, base + ".org", base + "-replica"] { try? FileManager.default.removeItem(atPath: dir) } }
        let (org, document) = try testFederation(university: base + ".org")
        let campus = try Node.create(at: base, name: "Campus", baseURL: "https://campus.example.edu", federation: document)
        try campus.publish(try org.append(.delegation(Delegation(feed: campus.feed, transport: campus.transport.publicKey, endpoint: nil, until: nil))))
        let own = try await campus.issue(CredentialRequest(subject: "did:example:bob", achievementName: "Networks"))
        try campus.changeStatus(.revoke, of: own.id, reason: "issued in error")
        let (strangerDID, forged) = Self.strangerEntries(about: own.id)
        await #expect(throws: VellumError.self) { _ = try await campus.importEntries(forged) }
        let replica = try Node.create(at: base + "-replica", name: "Replica", baseURL: "https://replica.example.edu", federation: document)
        var all: [Entry] = []
        try campus.store.forEachEntry { all.append($0) }
        _ = try await replica.importEntries(all)
        let path = "/v1/credentials/\(own.id)/status"
        let campusDID = campus.did.did
        let nobody = FeedWriter(key: .init(), head: nil, clock: HLC(rawValue: 0)).feed.didKey.did
        for dir in [base, base + "-replica"] {
            try await Application(router: try VellumAPI(dataPath: dir, registry: testRegistry).router()).test(.router) { raw in
                let client = Client(client: raw)
                for query in ["", "?issuer=" + campusDID] {
                    let answer = try await client.get(path + query)
                    #expect(answer.status == .ok && answer.json["status"] == "revoked" && answer.json["issuer"]?.stringValue == campusDID)
                    #expect(answer.json["trust"]?["trusted"] == true)
                }
                for other in [strangerDID, nobody] { #expect(try await client.get(path + "?issuer=" + other).status == .notFound) }
            }
        }
        // Gossip stores what a peer pushes without the file import's refusal: the stranger's
        // entries land on both nodes, as an untrusted feed of their own.
        let verifiedForgery = try await EntryVerifier.verifyContents(forged)
        for node in [campus, replica] { _ = try node.importVerified(verifiedForgery) }
        for (dir, bare) in [(base, HTTPResponse.Status.ok), (base + "-replica", .conflict)] {
            try await Application(router: try VellumAPI(dataPath: dir, registry: testRegistry).router()).test(.router) { raw in
                let client = Client(client: raw)
                let answer = try await client.get(path)  // the campus's own on its node; ambiguous on the replica
                #expect(answer.status == bare)
                if bare == .ok { #expect(answer.json["status"] == "revoked" && answer.json["issuer"]?.stringValue == campusDID) }
                let named = try await client.get(path + "?issuer=" + campusDID)
                #expect(named.status == .ok && named.json["status"] == "revoked" && named.json["trust"]?["trusted"] == true)
                let theirs = try await client.get(path + "?issuer=" + strangerDID)
                #expect(theirs.json["issuer"]?.stringValue == strangerDID && theirs.json["trust"]?["trusted"] == false)
                #expect(try await client.get(path + "?issuer=" + nobody).status == .notFound)
                #expect(try await client.get(path + "?at=2100-01-01T00:00:00Z").status == bare)  // the CLI's query
            }
        }
        // The CLI's answers (`vellum status`) choose the issuer by the same query.
        #expect(try campus.status(of: own.id).issuer == campusDID)
        #expect(#expect(throws: VellumError.self) { try replica.status(of: own.id) }?.code == .conflict)
        #expect(try replica.status(of: own.id, issuer: campusDID).trust?.trusted == true)
        #expect(try replica.status(of: own.id, issuer: strangerDID).trust?.trusted == false)
    }
}
