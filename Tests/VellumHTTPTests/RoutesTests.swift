@preconcurrency import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import Metrics
import Prometheus
import Testing
import VellumCore
import VellumHTTP
import VellumNode

/// One registry for the test process: `MetricsSystem` can be bootstrapped only once.
let testRegistry: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}()

/// A university created at `path` and the genesis of a federation it founds and endorses:
/// what a campus or replica of a one-university federation is created with.
func testFederation(university path: String) throws -> (org: OrgDirectory, genesis: FederationDocument) {
    _ = try OrgDirectory.create(at: path, name: "Test University")
    let org = OrgDirectory(path: path)
    let genesis = Genesis(name: "Test Federation", threshold: 1, founders: [try org.events()[0].org])
    var document = FederationDocument.genesis(genesis, events: [])
    if case .organization(let log) = try org.append(.endorsement(digest: genesis.digest)) {
        document = document.replacingEvents(of: log[0].org, with: log)
    }
    return (org, document)
}

/// A node with one active, one revoked and one suspended credential, and its API.
struct Campus: @unchecked Sendable {  // the node is used by one test at a time
    let dir: String
    let node: Node
    let active: IssuedCredential
    let revoked: IssuedCredential
    let suspended: IssuedCredential
    let api: VellumAPI

    init() async throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-http-\(UUID().uuidString)").path
        node = try Node.create(at: dir, name: "Campus", baseURL: "https://campus.example.edu")
        active = try await node.issue(CredentialRequest(subject: "did:example:ada", achievementName: "Databases"))
        revoked = try await node.issue(CredentialRequest(subject: "did:example:bob", achievementName: "Networks"))
        suspended = try await node.issue(CredentialRequest(subject: "did:example:cy", achievementName: "Compilers"))
        try node.changeStatus(.revoke, of: revoked.id, reason: "issued in error")
        try node.changeStatus(.suspend, of: suspended.id, reason: "under review")
        api = try VellumAPI(dataPath: dir, registry: testRegistry)
    }

    /// Removes the campus's directory, and the replica's next to it if a test made one
    /// (`TakeoverRoutesTests.replica`).
    func remove() { for path in [dir, dir + "-replica"] { try? FileManager.default.removeItem(atPath: path) } }

    /// Runs `body` with a client that calls the router in process (no sockets).
    func withClient(_ body: @escaping @Sendable (Client) async throws -> Void) async throws {
        let app = Application(router: api.router())
        try await app.test(.router) { client in try await body(Client(client: client)) }
    }
}

struct Reply: Sendable {
    let status: HTTPResponse.Status
    let text: String
    let contentType: String?
    var allow: String? = nil
    var json: JSON { (try? JSON(parsing: Array(text.utf8))) ?? .null }
}

struct Client: Sendable {
    let client: any TestClientProtocol

    func get(_ uri: String) async throws -> Reply {
        try await client.execute(uri: uri, method: .get) { Reply(status: $0.status, text: String(buffer: $0.body), contentType: $0.headers[.contentType]) }
    }

    func post(_ uri: String, _ body: String, type: String? = "application/json") async throws -> Reply {
        try await post(uri, bytes: Array(body.utf8), type: type)
    }

    func post(_ uri: String, bytes: [UInt8], type: String? = "application/json") async throws -> Reply {
        var headers = HTTPFields()
        if let type { headers[.contentType] = type }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: bytes)) {
            Reply(status: $0.status, text: String(buffer: $0.body), contentType: $0.headers[.contentType])
        }
    }
}

@Suite("HTTP routes, in process")
struct RoutesTests {
    @Test("status answers carry the issuer-signed evidence, which checks out independently")
    func status() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            for (credential, expected) in [(campus.active, "active"), (campus.revoked, "revoked"), (campus.suspended, "suspended")] {
                let reply = try await client.get("/v1/credentials/\(credential.id)/status")
                #expect(reply.status == .ok)
                #expect(reply.json["status"]?.stringValue == expected)
                let checked = try StatusEvidence.check(reply.json, credentialID: credential.id)
                #expect(checked.status.rawValue == expected)
                #expect(reply.json["asOf"]?["seq"]?.numberValue == Double(try campus.node.store.entryCount()))
            }
            // Answers are kept while the issuer's feed stands still; a status change moves it.
            let before = try await client.get("/v1/credentials/\(campus.active.id)/status").json
            try campus.node.changeStatus(.suspend, of: campus.active.id, reason: "checking")
            let after = try await client.get("/v1/credentials/\(campus.active.id)/status").json
            #expect(before["status"] == "active" && after["status"] == "suspended")
            #expect(after["evidence"]?.arrayValue?.count == 2)
            #expect(try StatusEvidence.check(after, credentialID: campus.active.id).status == .suspended)
            // The percent-encoded form of the id names the same credential.
            let encoded = campus.revoked.id.replacingOccurrences(of: ":", with: "%3A")
            #expect(try await client.get("/v1/credentials/\(encoded)/status").json["status"] == "revoked")
        }
    }

    @Test("the directly written status answer is byte for byte the canonical JSON of the report")
    func directSerialization() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let odd = try await campus.node.issue(CredentialRequest(subject: "did:example:ünïcode", achievementName: "Ωmega \"quoted\" \\ tab\t"))
        try campus.node.changeStatus(.suspend, of: odd.id, reason: "line\nbreak \u{1F393}")
        let ids = [campus.active.id, campus.revoked.id, campus.suspended.id, odd.id, "urn:uuid:00000000-0000-7000-8000-000000000000"]
        for id in ids {
            for at in [nil, Timestamp(parsing: "2020-01-01T00:00:00Z"), Timestamp(millisecondsSinceEpoch: Node.systemClock().millisecondsSinceEpoch - 1)] {
                let report = try campus.node.status(of: id, at: at)
                #expect(report.canonicalBytes == report.json.canonicalBytes, "\(id) at \(at?.rfc3339 ?? "now")")
            }
        }
    }

    @Test("evidence that was tampered with, or that contradicts the answer, is refused by the checker")
    func tamperedEvidence() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            let answer = try await client.get("/v1/credentials/\(campus.revoked.id)/status").json
            // Claim active while the evidence holds a revoke.
            #expect(throws: VellumError.self) { try StatusEvidence.check(answer.setting("status", to: "active"), credentialID: campus.revoked.id) }
            // Drop the revoke: the answer no longer matches what is left.
            let onlyIssue = answer.setting("evidence", to: .array([answer["evidence"]!.arrayValue![0]]))
            #expect(throws: VellumError.self) { try StatusEvidence.check(onlyIssue, credentialID: campus.revoked.id) }
            // Alter the signed revoke's reason.
            var revoke = answer["evidence"]!.arrayValue![1]
            revoke = revoke.setting("payload", to: revoke["payload"]!.setting("reason", to: "edited"))
            let forged = answer.setting("evidence", to: .array([answer["evidence"]!.arrayValue![0], revoke]))
            #expect(throws: VellumError.self) { try StatusEvidence.check(forged, credentialID: campus.revoked.id) }
            // A head older than the evidence.
            let stale = answer.setting("asOf", to: answer["asOf"]!.setting("seq", to: 1))
            #expect(throws: VellumError.self) { try StatusEvidence.check(stale, credentialID: campus.revoked.id) }
            // Evidence about another credential.
            #expect(throws: VellumError.self) { try StatusEvidence.check(answer, credentialID: campus.active.id) }
            // Evidence about another issuer's credential of that id; the issuer asked about is
            // compared as a key, and a did that is no key matches nothing.
            let issuer = answer["issuer"]!.stringValue!
            #expect(try StatusEvidence.check(answer, credentialID: campus.revoked.id, issuer: issuer).status == .revoked)
            let stranger = try DIDKey(publicKey: Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)).did
            for other in [stranger, issuer + "#" + String(issuer.dropFirst(8)) + "x", "did:web:example.com"] {
                #expect(throws: VellumError.self) { try StatusEvidence.check(answer, credentialID: campus.revoked.id, issuer: other) }
            }
        }
    }

    @Test("?at= answers from the log's own timestamps")
    func historical() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            let issuedAt = Timestamp(parsing: campus.revoked.payload.validFrom)!
            let before = try await client.get("/v1/credentials/\(campus.revoked.id)/status?at=2020-01-01")
            #expect(before.status == .notFound)
            #expect(before.json["code"] == "not_found")
            // Between issue and revoke the log has the same millisecond here; a time after both says revoked.
            let after = try await client.get("/v1/credentials/\(campus.revoked.id)/status?at=\(Timestamp(millisecondsSinceEpoch: issuedAt.millisecondsSinceEpoch + 60_000).rfc3339)")
            #expect(after.json["status"] == "revoked")
            let bad = try await client.get("/v1/credentials/\(campus.revoked.id)/status?at=last%20March")
            #expect(bad.status == .badRequest)
            #expect(bad.json["message"]?.stringValue?.contains("not an ISO 8601") == true)
        }
    }

    @Test("POST /v1/verify gives the same report as the node, with evidence")
    func verify() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            let good = try await client.post("/v1/verify", campus.active.document.canonicalString)
            #expect(good.status == .ok)
            #expect(good.json["verified"] == true)
            #expect(good.json["evidence"]?.arrayValue?.count == 1)
            let bad = try await client.post("/v1/verify", campus.revoked.document.canonicalString)
            #expect(bad.json["verified"] == false)
            #expect(bad.json["status"] == "revoked")
        }
    }

    @Test("bad requests get a JSON error naming the problem, never a 500, and change nothing", arguments: [
        ("POST", "/v1/verify", "{not json", "application/json", 400, "invalid_json"),
        ("POST", "/v1/verify", "{}", "text/plain", 415, "unsupported_media_type"),
        ("POST", "/v1/verify", "{}", nil, 415, "unsupported_media_type"),
        ("POST", "/v1/verify", "(1 MiB of spaces, then {})", "application/json", 413, "too_large"),
        ("GET", "/v1/credentials/not-a-urn/status", "", nil, 400, "bad_request"),
        ("GET", "/v1/credentials/urn:uuid:00000000-0000-7000-8000-000000000000/status", "", nil, 404, "not_found"),
        ("GET", "/v1/status-lists/nonsense", "", nil, 400, "bad_request"),
        ("GET", "/v1/nowhere", "", nil, 404, "not_found"),
        ("POST", "/credentials/verify", "[1,2", "application/json", 400, "PARSING_ERROR"),
        ("POST", "/credentials/verify", "{\"options\":{}}", "application/json", 400, "PARSING_ERROR"),
        ("POST", "/presentations/verify", "{\"verifiablePresentation\":7}", "application/json", 400, "PARSING_ERROR"),
    ] as [(String, String, String, String?, Int, String)])
    func badInput(method: String, uri: String, body: String, type: String?, status: Int, code: String) async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let root = try campus.node.digest()
        try await campus.withClient { client in
            let body = body.hasPrefix("(1 MiB") ? String(repeating: " ", count: VellumAPI.maxBody) + "{}" : body
            let reply = method == "GET" ? try await client.get(uri) : try await client.post(uri, body, type: type)
            #expect(reply.status.code == status)
            #expect(reply.json["code"]?.stringValue == code)
            #expect((reply.json["message"]?.stringValue ?? "").count > 3)
            #expect(reply.contentType?.hasPrefix("application/json") == true)
        }
        #expect(try campus.node.digest() == root)
    }

    @Test("mutated requests (truncated, corrupted, hostile paths) never get a 5xx, always a JSON body, and change nothing")
    func mutatedRequests() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let root = try campus.node.digest()
        let credential = Array(campus.active.document.canonicalString.utf8)
        let wrapped = Array(JSON.object(["verifiableCredential": campus.active.document]).canonicalString.utf8)
        // Every 1/40th of the body: cut there, or put a quote, a brace, a NUL or an invalid UTF-8 byte there.
        @Sendable func mutants(_ body: [UInt8]) -> [[UInt8]] {
            var out: [[UInt8]] = []
            for i in stride(from: 0, to: body.count, by: max(1, body.count / 40)) {
                out.append(Array(body[..<i]))
                for byte: UInt8 in [0x22, 0x7B, 0x00, 0xFF] {
                    var m = body
                    m[i] = byte
                    out.append(m)
                }
            }
            return out
        }
        let hostileIDs = [
            "urn:uuid:%00", "urn:uuid:%zz", "%", "urn%3Auuid%3A" + String(repeating: "f", count: 10_000), "urn:uuid:../../etc/passwd",
            "urn:uuid:\u{1F393}", "urn:uuid:01a2%2F..%2Fstatus",
        ]
        try await campus.withClient { client in
            var sent = 0
            func expectSound(_ reply: Reply, _ what: String) {
                sent += 1
                #expect(reply.status.code < 500, "\(what): \(reply.status.code) \(reply.text.prefix(200))")
                #expect(reply.json.objectValue != nil, "\(what): not a JSON object: \(reply.text.prefix(200))")
            }
            for (uri, body) in [("/v1/verify", credential), ("/credentials/verify", wrapped), ("/presentations/verify", wrapped)] {
                for mutant in mutants(body) {
                    expectSound(try await client.post(uri, bytes: mutant), "\(uri) with a mutated body")
                }
            }
            for id in hostileIDs {
                let encoded = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? id
                expectSound(try await client.get("/v1/credentials/\(encoded)/status"), "status of \(id.prefix(40))")
                expectSound(try await client.get("/v1/credentials/\(campus.active.id)/status?at=\(encoded)"), "at=\(id.prefix(40))")
                expectSound(try await client.get("/v1/status-lists/\(encoded)"), "list \(id.prefix(40))")
            }
            #expect(sent > 600)
        }
        #expect(try campus.node.digest() == root)
    }

    @Test("status lists: the issuer's signed bytes, with exactly the revoked and suspended bits")
    func statusLists() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            for (purpose, credential) in [("revocation", campus.revoked), ("suspension", campus.suspended)] {
                let entry = campus.active.document["credentialStatus"]!.arrayValue!.first { $0["statusPurpose"] == .string(purpose) }!
                let url = entry["statusListCredential"]!.stringValue!
                let reply = try await client.get("/v1/status-lists/" + url.split(separator: "/").last!)
                #expect(reply.status == .ok)
                let list = reply.json
                #expect(list["id"]?.stringValue == url)
                let proof = try DataIntegrity.verify(list)
                #expect(proof.signer == campus.node.did)
                let bits = try Gzip.decodeList(list["credentialSubject"]!["encodedList"]!.stringValue!)
                #expect(bits.size >= 131_072)
                #expect(bits.setIndices == [credential.payload.statusListIndex])
            }
            let missing = StatusListName(issuer: campus.node.did, purpose: "revocation", number: 9)
            #expect(try await client.get("/v1/status-lists/\(missing)").status == .notFound)
        }
    }

    @Test("VC-API: a VerificationResult with problemDetails of the standard error types")
    func vcAPICredentials() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            func verify(_ credential: JSON) async throws -> JSON {
                let reply = try await client.post("/credentials/verify", JSON.object(["verifiableCredential": credential, "options": [:]]).canonicalString)
                #expect(reply.status == .ok)
                return reply.json
            }
            let good = try await verify(campus.active.document)
            #expect(good["verified"] == true)
            #expect(good["problemDetails"]?.arrayValue?.isEmpty == true)
            #expect(good["results"]?.arrayValue?.count == 6)

            let revoked = try await verify(campus.revoked.document)
            #expect(revoked["verified"] == false)
            #expect(revoked["problemDetails"]?.arrayValue?.map { $0["type"]!.stringValue! } == [ProblemDetails.statusVerification])

            let tampered = campus.active.document.setting("name", to: "Doctorate")
            let types = try await verify(tampered)["problemDetails"]!.arrayValue!.map { $0["type"]!.stringValue! }
            #expect(types.contains(ProblemDetails.cryptographic))

            let unparsable = try await client.post("/credentials/verify", "{\"verifiableCredential\":")
            #expect(unparsable.status == .badRequest)
            #expect(unparsable.json["problemDetails"]?.arrayValue?.first?["type"]?.stringValue == ProblemDetails.parsing)
        }
    }

    @Test("VC-API presentations: each stacked credential is reported, and the holder's proof with its challenge")
    func vcAPIPresentations() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let holderKey = Curve25519.Signing.PrivateKey()
        let holder = try DIDKey(publicKey: Array(holderKey.publicKey.rawRepresentation))
        @Sendable func presentation(_ credentials: [IssuedCredential], challenge: String?) throws -> JSON {
            let unsigned: JSON = [
                "@context": [.string(OpenBadges.vcContext)], "type": ["VerifiablePresentation"], "holder": .string(holder.did),
                "verifiableCredential": .array(credentials.map(\.document)),
            ]
            let options = DataIntegrity.ProofOptions(
                verificationMethod: holder.verificationMethod, created: "2026-11-27T00:00:00Z", proofPurpose: "authentication", challenge: challenge)
            return try DataIntegrity.sign(unsigned, options: options, with: holderKey)
        }
        try await campus.withClient { client in
            func verify(_ vp: JSON, challenge: String?) async throws -> JSON {
                let options: JSON = challenge.map { ["challenge": .string($0)] } ?? [:]
                return try await client.post("/presentations/verify", JSON.object(["verifiablePresentation": vp, "options": options]).canonicalString).json
            }
            let stacked = try await verify(try presentation([campus.active, campus.suspended], challenge: "n-0S6"), challenge: "n-0S6")
            #expect(stacked["verified"] == false)
            #expect(stacked["presentationResult"]?["verified"] == true)
            #expect(stacked["credentialResults"]?.arrayValue?.map { $0["verified"]! } == [true, false])

            let fine = try await verify(try presentation([campus.active], challenge: "n-0S6"), challenge: "n-0S6")
            #expect(fine["verified"] == true)

            let replayed = try await verify(try presentation([campus.active], challenge: "old"), challenge: "n-0S6")
            #expect(replayed["verified"] == false)
            #expect(replayed["presentationResult"]?["verified"] == false)

            let unsigned = try presentation([campus.active], challenge: nil).removing("proof")
            #expect(try await verify(unsigned, challenge: nil)["verified"] == true)
            #expect(try await verify(unsigned, challenge: "n-0S6")["verified"] == false)
        }
    }

    @Test("VC-API presentations: both request shapes of the specification, the proofless one included")
    func vcAPIPresentationShapes() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        let unsigned: JSON = [
            "@context": [.string(OpenBadges.vcContext)], "type": ["VerifiablePresentation"],
            "verifiableCredential": [campus.active.document, campus.revoked.document],
        ]
        try await campus.withClient { client in
            // ProoflessVerifyPresentationRequest: {"presentation": ..., "options": ...}, options optional.
            for body: JSON in [["presentation": unsigned, "options": [:]], ["presentation": unsigned], ["verifiablePresentation": unsigned]] {
                let reply = try await client.post("/presentations/verify", body.canonicalString)
                #expect(reply.status == .ok, "\(reply.text.prefix(300))")
                #expect(reply.json["presentationResult"]?["verified"] == true)
                #expect(reply.json["credentialResults"]?.arrayValue?.map { $0["verified"]! } == [true, false])
                #expect(reply.json["verified"] == false)
            }
            // A proofless presentation cannot answer a challenge.
            let challenged = try await client.post("/presentations/verify", JSON.object(["presentation": unsigned, "options": ["challenge": "n-0S6"]]).canonicalString)
            #expect(challenged.json["presentationResult"]?["verified"] == false)
            // Both members at once, or neither, is a parsing error that names the problem.
            for body: JSON in [["presentation": unsigned, "verifiablePresentation": unsigned], ["presentation": "text"], ["options": [:]]] {
                let reply = try await client.post("/presentations/verify", body.canonicalString)
                #expect(reply.status == .badRequest)
                #expect(reply.json["code"] == "PARSING_ERROR")
                #expect(reply.json["message"]?.stringValue?.contains("presentation") == true)
            }
        }
    }

    @Test("a known path asked with another method is a 405 naming the allowed methods, in the JSON error form", arguments: [
        ("GET", "/v1/verify", "POST"), ("DELETE", "/healthz", "GET"), ("PUT", "/v1/credentials/urn:uuid:0/status", "GET"),
        ("GET", "/presentations/verify", "POST"), ("POST", "/", "GET"), ("PATCH", "/v1/status-lists/x-revocation-0", "GET"),
    ])
    func methodNotAllowed(method: String, uri: String, allowed: String) async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            let reply = try await client.client.execute(uri: uri, method: HTTPRequest.Method(method)!) {
                Reply(status: $0.status, text: String(buffer: $0.body), contentType: $0.headers[.contentType], allow: $0.headers[.allow])
            }
            #expect(reply.status == .methodNotAllowed)
            #expect(reply.allow == allowed)
            #expect(reply.json["code"] == "method_not_allowed")
            #expect(reply.json["message"]?.stringValue?.contains(allowed) == true)
            #expect(reply.contentType?.hasPrefix("application/json") == true)
            // An unknown path stays a 404 whatever the method.
            let unknown = try await client.client.execute(uri: "/v1/nowhere", method: HTTPRequest.Method(method)!) { $0.status }
            #expect(unknown == .notFound)
        }
    }

    @Test("health, metrics, the OpenAPI document and the verifier page")
    func operations() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            let health = try await client.get("/healthz")
            #expect(health.json["status"] == "ok")
            #expect(health.json["entries"]?.numberValue == Double(try campus.node.store.entryCount()))

            _ = try await client.get("/v1/credentials/\(campus.active.id)/status")
            let metrics = try await client.get("/metrics")
            #expect(metrics.contentType?.hasPrefix("text/plain") == true)
            #expect(metrics.text.contains("vellum_entries \(try campus.node.store.entryCount())"))
            #expect(metrics.text.contains("vellum_http_request_duration_seconds_bucket{"))
            #expect(metrics.text.contains("route=\"/v1/credentials/{id}/status\""))

            let page = try await client.get("/")
            #expect(page.contentType?.hasPrefix("text/html") == true)
            #expect(page.text.contains("<form"))
            // No external assets: nothing is loaded from another origin.
            #expect(!page.text.contains("src=\"http") && !page.text.contains("href=\"http") && !page.text.contains("@import"))
        }
    }

    @Test("the OpenAPI document lists exactly the routes the router serves")
    func openAPIMatchesRoutes() async throws {
        let campus = try await Campus()
        defer { campus.remove() }
        try await campus.withClient { client in
            let yaml = try await client.get("/openapi.yaml").text
            #expect(yaml.hasPrefix("openapi: 3.1"))
            var documented: Set<String> = []
            var path: String?
            for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()) }
                else if !line.hasPrefix(" ") { path = nil }
                else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                    let method = line.trimmingCharacters(in: .whitespaces).dropLast()
                    if ["get", "post", "put", "delete", "patch"].contains(method) { documented.insert("\(method.uppercased()) \(path)") }
                }
            }
            let served = Set(campus.api.routes.map { "\($0.method) \($0.path)" })
            #expect(documented == served)
        }
    }
}
