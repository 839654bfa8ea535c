import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import VellumCore

/// A plain HTTP request from the test, as any client would make it.
func http(_ method: String, _ url: String, body: String? = nil, type: String = "application/json") throws -> (Int, String) {
    var request = URLRequest(url: URL(string: url)!, timeoutInterval: 10)
    request.httpMethod = method
    if let body {
        request.httpBody = Data(body.utf8)
        request.setValue(type, forHTTPHeaderField: "Content-Type")
    }
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: (Int, String, (any Error)?) = (0, "", nil)
    URLSession.shared.dataTask(with: request) { data, response, error in
        result = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self), error)
        done.signal()
    }.resume()
    done.wait()
    if let error = result.2 { throw error }
    return (result.0, result.1)
}

@Suite("HTTP service of a real node process")
struct HTTPNodeTests {
    @Test("a replica answers for an offline issuer: checked evidence, verification, the issuer-signed status lists")
    func replicaAnswersForOfflineIssuer() throws {
        let scratch = try Scratch()
        let issuer = try scratch.initializedNode("issuer", institution: "North Campus")
        let replica = try scratch.initializedNode("replica", institution: "South Campus")
        let ids = try (0..<3).map { try issuer.issue(subject: "did:example:\($0)", out: scratch.file("\($0).json")) }
        #expect(try issuer.run(["revoke", ids[1], "--reason", "issued in error"]).code == 0)
        #expect(try issuer.run(["suspend", ids[2]]).code == 0)

        let issuerDaemon = try NodeProcess(issuer, http: true)
        let replicaDaemon = try NodeProcess(replica, http: true)
        try issuer.addPeer(replica, at: replicaDaemon.endpoint)
        try replica.addPeer(issuer, at: issuerDaemon.endpoint)
        try eventually(30, "the replica to hold the issuer's entries", logs: [issuer, replica]) { try digests([issuer, replica]).count == 1 }
        #expect(issuerDaemon.stop() == 0)
        let node = replicaDaemon.httpURL

        // The CLI asks the replica and checks its evidence.
        let status = try replica.run(["status", "--node", node, ids[1], "--json"])
        #expect(status.code == 0 && status.json["status"] == "revoked", "\(status.stderr)")
        #expect(status.json["evidence"]?.arrayValue?.map { $0["kind"]!.stringValue! } == ["issue", "revoke"])
        #expect(status.json["asOf"]?["heardAt"]?.stringValue != nil)
        let human = try replica.run(["status", "--node", node, ids[2]])
        #expect(human.stdout.contains("suspended") && human.stdout.contains("as of"))
        #expect(try replica.run(["verify", "--node", node, scratch.file("0.json")]).code == 0)
        let revoked = try replica.run(["verify", "--node", node, scratch.file("1.json")])
        #expect(revoked.code == 1 && revoked.stdout.contains("NOT VERIFIED") && revoked.stderr.contains("revoked"))
        let unknown = try replica.run(["status", "--node", node, "urn:uuid:00000000-0000-7000-8000-000000000000"])
        #expect(unknown.code == 1 && unknown.stderr.contains("unknown credential"))

        // The status lists the credentials name resolve on the replica, to the issuer's signed lists.
        let did = try issuer.run(["id", "--json"]).json["did"]!.stringValue!
        let credential = try JSON(parsing: try scratch.read("0.json"))
        for (purpose, expected) in [("revocation", [1]), ("suspension", [2])] {
            let index = { (n: Int) in
                try! JSON(parsing: try! scratch.read("\(n).json"))["credentialStatus"]!.arrayValue![0]["statusListIndex"]!.stringValue!
            }
            let url = credential["credentialStatus"]!.arrayValue!.first { $0["statusPurpose"]?.stringValue == purpose }!["statusListCredential"]!.stringValue!
            let name = url.split(separator: "/").last!
            let saved = scratch.file("\(purpose)-list.json")
            let (code, output) = try python(StatusListInteropTests.decoder, ["\(node)/v1/status-lists/\(name)", "--save", saved])
            #expect(code == 0 && output == "\(purpose) 131072 [\(expected.map(index).joined(separator: ", "))]", "\(output)")
            let (proofCode, signer) = try python(InteropTests.script, [saved])
            #expect(proofCode == 0 && signer == did, "\(signer)")
        }

        let (healthCode, health) = try http("GET", "\(node)/healthz")
        #expect(healthCode == 200 && health.contains("\"status\":\"ok\""))
        let (_, metrics) = try http("GET", "\(node)/metrics")
        #expect(metrics.contains("vellum_entries ") && metrics.contains("vellum_sync_rounds_total"))
        #expect(replicaDaemon.stop() == 0)
    }

    @Test("a status change committed by another process is in the node's very next answer, also where it was answering without a read")
    func otherProcessesChangesShowAtOnce() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let id = try node.issue(out: scratch.file("a.json"))
        let did = try node.run(["id", "--json"]).json["did"]!.stringValue!
        let daemon = try NodeProcess(node, http: true)
        defer { daemon.stop() }
        let changes: [([String]?, String)] = [(nil, "active"), (["suspend", id], "suspended"), (["reinstate", id], "active"), (["revoke", id], "revoked")]
        for (command, expected) in changes {
            if let command { #expect(try node.run(command).code == 0) }  // `vellum` in a process of its own, beside the node
            for query in ["", "?issuer=" + did] {
                // Read (the first time twice: an answer is kept from its second reading on),
                // confirmed by a query, then twice given again without one.
                for _ in 0..<(command == nil ? 5 : 4) {
                    let (code, text) = try http("GET", "\(daemon.httpURL)/v1/credentials/\(id)/status\(query)")
                    #expect(code == 200 && (try? JSON(parsing: text))?["status"]?.stringValue == expected, "\(command ?? []) \(query): \(code) \(text.prefix(200))")
                }
            }
        }
        // The last two of each round were given without a read: nothing else commits here.
        let metrics = try http("GET", "\(daemon.httpURL)/metrics").1
        let withoutRead = metrics.split(separator: "\n").first { $0.hasPrefix("vellum_http_status_answers_without_read_total ") }
        #expect(withoutRead?.split(separator: " ").last == "\(changes.count * 2 * 2)", "\(withoutRead ?? "no counter")")
    }

    @Test("bad input to a real node: a 4xx with a JSON body, the node keeps serving, the ledger is unchanged")
    func badInputOverSockets() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let id = try node.issue(out: scratch.file("a.json"))
        let root = try node.digest()
        let daemon = try NodeProcess(node, http: true)
        let base = daemon.httpURL
        let cases: [(String, String, String?, String, Int)] = [
            ("POST", "/v1/verify", "{\"truncated\":", "application/json", 400),
            ("POST", "/v1/verify", "{}", "application/x-www-form-urlencoded", 415),
            ("POST", "/v1/verify", String(repeating: "x", count: 2 << 20), "application/json", 413),
            ("GET", "/v1/credentials/\(id)/status?at=yesterday", nil, "", 400),
            ("GET", "/v1/status-lists/z6Mk-nope-1", nil, "", 400),
            ("POST", "/credentials/verify", "null", "application/json", 400),
            ("DELETE", "/v1/verify", nil, "", 405),
            ("DELETE", "/v1/nowhere", nil, "", 404),
        ]
        for (method, path, body, type, expected) in cases {
            let (code, text) = try http(method, base + path, body: body, type: type)
            #expect(code == expected, "\(method) \(path): \(code) \(text.prefix(200))")
            let json = try? JSON(parsing: text)
            #expect(json?["code"]?.stringValue != nil && json?["message"]?.stringValue != nil, "\(text.prefix(200))")
        }
        let (code, text) = try http("GET", "\(base)/v1/credentials/\(id)/status")
        #expect(code == 200 && text.contains("\"status\":\"active\""))
        #expect(daemon.stop() == 0)
        #expect(try node.digest() == root)
    }
}

@Suite("The verifier web page in headless Chromium")
struct VerifierPageTests {
    static let driver = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/verifier_page.py").path

    @Test("paste a valid, a revoked, a tampered credential and some garbage: the page renders each verdict")
    func verifierPage() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        _ = try node.issue(subject: "did:example:ada", out: scratch.file("valid.json"))
        let revoked = try node.issue(subject: "did:example:bob", out: scratch.file("revoked.json"))
        #expect(try node.run(["revoke", revoked]).code == 0)
        try scratch.write("tampered.json", try scratch.read("valid.json").replacingOccurrences(of: "did:example:ada", with: "did:example:eve"))
        try scratch.write("garbage.json", "this is not a credential")
        let daemon = try NodeProcess(node, http: true)
        let files = ["valid", "revoked", "tampered", "garbage"].map { scratch.file("\($0).json") }
        let (code, output) = try python(Self.driver, [daemon.httpURL] + files)
        #expect(code == 0, "\(output)")
        let pages = output.split(separator: "\n").compactMap { try? JSON(parsing: String($0)) }
        #expect(pages.count == 4, "\(output)")
        guard pages.count == 4 else { return }
        let did = try node.run(["id", "--json"]).json["did"]!.stringValue!

        #expect(pages[0]["verdict"] == "Verified" && pages[0]["status"] == "active" && pages[0]["issuer"] == .string(did))
        #expect(pages[0]["asOf"]?.stringValue?.contains("issuer's ledger entry #") == true)
        #expect(pages[0]["checks"]?.arrayValue?.count == 6 && pages[0]["checks"]!.arrayValue!.allSatisfy { $0.arrayValue?[1] == true })

        #expect(pages[1]["verdict"] == "Not verified" && pages[1]["status"] == "revoked")
        #expect(pages[1]["checks"]?.arrayValue?.contains([.string("status"), false]) == true)

        #expect(pages[2]["verdict"] == "Not verified")
        #expect(pages[2]["checks"]?.arrayValue?.contains([.string("proof"), false]) == true)

        #expect(pages[3]["verified"] == "false" && pages[3]["error"]?.stringValue?.contains("not JSON") == true)
        #expect(daemon.stop() == 0)
    }
}
