import Foundation
import Testing
import VellumCore

@Suite("vellum CLI: the registrar's and verifier's walkthrough")
struct WalkthroughTests {
    @Test("init, issue, verify, suspend, reinstate, revoke, status, log, audit")
    func walkthrough() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let mode = try FileManager.default.attributesOfItem(atPath: node.data + "/feed.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let id = try node.issue(out: scratch.file("alice.json"), extra: ["--valid-until", "2031-06-30", "--achievement-type", "Certificate"])
        #expect(id.hasPrefix("urn:uuid:"))
        let credential = try JSON(parsing: try scratch.read("alice.json"))
        #expect(credential["id"]?.stringValue == id)
        #expect(credential["validUntil"] == "2031-06-30T23:59:59Z")

        var verify = try node.run(["verify", scratch.file("alice.json"), "--json"])
        #expect(verify.code == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.json["verified"] == true)
        #expect(verify.json["checks"]?.arrayValue?.map { $0["check"]!.stringValue! } == ["structure", "proof", "issuer", "validity", "ledger", "status"])

        func status() throws -> JSON {
            let r = try node.run(["status", id, "--json"])
            #expect(r.code == 0, "\(r.stderr)")
            return r.json
        }
        #expect(try status()["status"] == "active")
        #expect(try status()["evidence"]?.arrayValue?.count == 1)

        #expect(try node.run(["suspend", id, "--reason", "under review"]).code == 0)
        #expect(try status()["status"] == "suspended")
        verify = try node.run(["verify", scratch.file("alice.json"), "--json"])
        #expect(verify.code != 0)
        #expect(verify.json["verified"] == false && verify.json["status"] == "suspended")
        #expect(verify.stderr.contains("status is suspended"))

        #expect(try node.run(["suspend", id]).stderr.contains("already suspended"))
        #expect(try node.run(["reinstate", id]).code == 0)
        #expect(try status()["status"] == "active")
        #expect(try node.run(["reinstate", id]).code != 0)

        #expect(try node.run(["revoke", id, "--reason", "issued in error"]).code == 0)
        let revoked = try status()
        #expect(revoked["status"] == "revoked")
        #expect(revoked["evidence"]?.arrayValue?.count == 2)
        let afterRevoke = try node.run(["reinstate", id])
        #expect(afterRevoke.code != 0 && afterRevoke.stderr.contains("revocation is final"))

        let log = try node.run(["log", "--json"])
        let lines = log.stdout.split(separator: "\n").map { try! JSON(parsing: String($0)) }
        // Each status change is followed by the status list it changed, signed by the issuer.
        #expect(lines.map { $0["kind"]!.stringValue! } == [
            "issue", "status-list", "status-list", "suspend", "status-list", "reinstate", "status-list", "revoke", "status-list",
        ])
        #expect(lines.map { $0["seq"]!.numberValue! } == (1...9).map(Double.init))
        #expect(!log.stdout.contains("alice"), "personal data must not enter the log")

        let audit = try node.run(["audit", "--json"])
        #expect(audit.code == 0 && audit.json["ok"] == true && audit.json["entries"] == 9)
        #expect(audit.json["stateRoot"]?.stringValue == (try node.digest()))
    }

    @Test("status --at answers as of a past time, from the log's own timestamps")
    func historicalStatus() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        func now() -> String {
            let ms = Int64(Date().timeIntervalSince1970 * 1000)
            let t = Timestamp(millisecondsSinceEpoch: ms).rfc3339.dropLast()  // whole seconds, then add ms
            return "\(t).\(String(format: "%03d", ms % 1000))Z"
        }
        func pause() { usleep(30_000) }
        let before = now(); pause()
        let id = try node.issue(out: scratch.file("a.json")); pause()
        let issued = now(); pause()
        #expect(try node.run(["suspend", id]).code == 0); pause()
        let suspended = now(); pause()
        #expect(try node.run(["reinstate", id]).code == 0); pause()
        let reinstated = now(); pause()
        #expect(try node.run(["revoke", id]).code == 0)
        for (time, status, evidence) in [(issued, "active", 1), (suspended, "suspended", 2), (reinstated, "active", 2)] {
            let r = try node.run(["status", id, "--at", time, "--json"])
            #expect(r.code == 0 && r.json["status"]?.stringValue == status, "at \(time): \(r.stdout) \(r.stderr)")
            #expect(r.json["evidence"]?.arrayValue?.count == evidence)
            #expect(r.json["at"]?.stringValue == String(time.prefix(19)) + "Z")
        }
        #expect(try node.run(["status", id, "--json"]).json["status"] == "revoked")
        let early = try node.run(["status", id, "--at", before, "--json"])
        #expect(early.code != 0 && early.json["status"] == "unknown" && early.stderr.contains("as of"))
        #expect(try node.run(["status", id, "--at", "last March"]).stderr.contains("--at 'last March'"))
    }

    @Test("the credential goes to stdout and its id to stderr without --out")
    func issueToStdout() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let r = try node.run(["issue", "--subject", "bob@example.edu", "--achievement", "Chemistry Lab Safety"])
        #expect(r.code == 0)
        let credential = try JSON(parsing: r.stdout)
        #expect(credential["id"]?.stringValue == r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(credential["credentialSubject"]?["id"] == "mailto:bob@example.edu")
    }

    @Test("help lists every command")
    func help() throws {
        let r = try VellumProcess(data: "/nonexistent").run(["--help"])
        for command in ["init", "issue", "revoke", "suspend", "reinstate", "status", "verify", "log", "audit", "digest", "export", "import"] {
            #expect(r.stdout.contains("  \(command)"), "help lacks \(command)")
        }
    }
}

@Suite("vellum CLI: concurrent writers")
struct ConcurrencyTests {
    @Test("processes issuing at once against one data directory keep one valid chain")
    func concurrentIssuers() async throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        try await withThrowingTaskGroup(of: Int32.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var failures: Int32 = 0
                    for i in 0..<5 {
                        let r = try node.run(["issue", "--subject", "did:example:w\(worker)-\(i)", "--achievement", "Parallel", "--out", scratch.file("w\(worker)-\(i).json")])
                        if r.code != 0 { failures += 1 }
                    }
                    return failures
                }
            }
            for try await failures in group { #expect(failures == 0) }
        }
        let audit = try node.run(["audit", "--json"])
        #expect(audit.code == 0 && audit.json["entries"] == 22 && audit.json["credentials"] == 20, "\(audit.stdout) \(audit.stderr)")
    }
}
