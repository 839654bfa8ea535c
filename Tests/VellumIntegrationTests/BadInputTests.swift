import CSQLite
import Foundation
import Testing
import VellumCore

/// Bad input gets a one-line error naming the problem, a non-zero exit, and changes nothing.
@Suite("vellum CLI: bad input changes nothing")
struct BadInputTests {
    /// Runs `arguments`, expects failure with `message` on stderr, and an unchanged digest.
    func expectRefused(_ node: VellumProcess, _ arguments: [String], _ message: String, stdin: String? = nil) throws {
        let before = try node.digest()
        let entries = try node.run(["log", "--json"]).stdout
        let r = try node.run(arguments, stdin: stdin)
        #expect(r.code != 0, "\(arguments) succeeded")
        #expect(r.stderr.contains(message), "\(arguments): stderr was \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(arguments): more than one line: \(r.stderr)")
        #expect(try node.digest() == before, "\(arguments) changed the state root")
        #expect(try node.run(["log", "--json"]).stdout == entries, "\(arguments) changed the log")
    }

    @Test("unknown, malformed and foreign credential ids")
    func unknownIDs() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        _ = try node.issue(out: scratch.file("a.json"))
        let unknown = "urn:uuid:00000000-0000-4000-8000-000000000000"
        try expectRefused(node, ["revoke", unknown], "unknown credential \(unknown)")
        try expectRefused(node, ["suspend", unknown], "unknown credential")
        try expectRefused(node, ["reinstate", "not-an-id"], "not a credential id")
        try expectRefused(node, ["status", "12345"], "not a credential id")
        let status = try node.run(["status", unknown, "--json"])
        #expect(status.code != 0 && status.json["status"] == "unknown")
    }

    @Test("malformed, tampered and foreign credentials do not verify")
    func badCredentials() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        _ = try node.issue(out: scratch.file("a.json"))
        let original = try scratch.read("a.json")

        try scratch.write("truncated.json", String(original.prefix(200)))
        try expectRefused(node, ["verify", scratch.file("truncated.json")], "invalid JSON")
        try expectRefused(node, ["verify", scratch.file("missing.json")], "no such file")

        let doc = try JSON(parsing: original)
        let tampered = doc.setting("credentialSubject", to: doc["credentialSubject"]!.setting("id", to: "did:example:mallory"))
        try scratch.write("tampered.json", tampered.prettyString)
        let r = try node.run(["verify", scratch.file("tampered.json"), "--json"])
        #expect(r.code != 0)
        let failed = r.json["checks"]!.arrayValue!.filter { $0["ok"] == false }.map { $0["check"]!.stringValue! }
        #expect(failed == ["proof", "issuer", "ledger"])
        #expect(r.stderr.contains("signature does not verify"))

        // A credential signed by another node is genuine but unknown to this ledger.
        let other = try scratch.initializedNode("other", institution: "Other College")
        _ = try other.issue(out: scratch.file("other.json"))
        let foreign = try node.run(["verify", scratch.file("other.json"), "--json"])
        #expect(foreign.code != 0)
        #expect(foreign.json["checks"]!.arrayValue!.filter { $0["ok"] == false }.map { $0["check"]!.stringValue! } == ["ledger", "status"])
    }

    @Test("invalid dates, subjects and types are refused before anything is issued", arguments: [
        (["--valid-until", "2031-02-30"], "valid-until"),
        (["--valid-until", "next year"], "valid-until"),
        (["--valid-until", "2001-01-01"], "is not after the issue time"),
        (["--achievement-type", "Trophy"], "unknown achievement type"),
    ])
    func badIssue(extra: [String], message: String) throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        try expectRefused(node, ["issue", "--subject", "did:example:a", "--achievement", "X", "--out", scratch.file("x.json")] + extra, message)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x.json")))
        try expectRefused(node, ["issue", "--subject", "Alice Smith", "--achievement", "X"], "subject")
    }

    @Test("double init is refused and leaves the node as it was")
    func doubleInit() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        _ = try node.issue(out: scratch.file("a.json"))
        let key = try String(contentsOfFile: node.data + "/feed.key", encoding: .utf8)
        try expectRefused(node, ["init", "--name", "Impostor"], "already holds a Vellum node")
        #expect(try String(contentsOfFile: node.data + "/feed.key", encoding: .utf8) == key)
    }

    @Test("an output file that exists is not replaced, and nothing is left beside it")
    func existingOutput() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        _ = try node.issue(out: scratch.file("a.json"))
        let before = try String(contentsOfFile: scratch.file("a.json"), encoding: .utf8)
        try expectRefused(node, ["issue", "--subject", "did:example:b", "--achievement", "X", "--out", scratch.file("a.json")], "a.json already exists")
        try expectRefused(node, ["export", "--out", scratch.file("a.json")], "a.json already exists")
        #expect(try String(contentsOfFile: scratch.file("a.json"), encoding: .utf8) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("")).allSatisfy { !$0.contains(".partial-") })
        // A fresh one is written whole.
        let export = try node.run(["export", "--out", scratch.file("log.jsonl"), "--json"])
        #expect(export.code == 0, "\(export.stderr)")
        let lines = try String(contentsOfFile: scratch.file("log.jsonl"), encoding: .utf8).split(separator: "\n")
        // A header, the entries, and the closing line that proves the file whole.
        #expect(lines.first?.contains("vellum-export") == true && lines.last?.contains(#""end":true"#) == true)
        #expect(Double(lines.count - 2) == export.json["entries"]?.numberValue)
    }

    @Test("a missing or foreign data directory is refused and not created")
    func missingOrForeignDataDir() throws {
        let scratch = try Scratch()
        let missing = scratch.node("missing")
        let r = try missing.run(["digest"])
        #expect(r.code != 0 && r.stderr.contains("no Vellum node at"))
        #expect(!FileManager.default.fileExists(atPath: missing.data))

        // A directory of something else.
        try FileManager.default.createDirectory(atPath: scratch.file("photos"), withIntermediateDirectories: true)
        try scratch.write("photos/cat.jpg", "meow")
        let foreign = try scratch.node("photos").run(["status", "urn:uuid:1"])
        #expect(foreign.code != 0 && foreign.stderr.contains("not a Vellum data directory"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.file("photos")) == ["cat.jpg"])

        // Files with the right names but foreign contents.
        let impostor = try scratch.initializedNode("impostor")
        try scratch.write("impostor/ledger.sqlite", "not a database at all")
        let notADatabase = try impostor.run(["digest"])
        #expect(notADatabase.code != 0 && notADatabase.stderr.contains("not a Vellum data directory"))

        // Another node's key.
        let a = try scratch.initializedNode("a"), b = try scratch.initializedNode("b")
        try FileManager.default.removeItem(atPath: b.data + "/feed.key")
        try FileManager.default.copyItem(atPath: a.data + "/feed.key", toPath: b.data + "/feed.key")
        let wrongKey = try b.run(["digest"])
        #expect(wrongKey.code != 0 && wrongKey.stderr.contains("does not belong to the ledger"))
    }
}

@Suite("vellum CLI: tamper evidence")
struct TamperTests {
    /// Runs SQL on a ledger with the system SQLite, as an attacker with file access would.
    func sql(_ path: String, _ statements: String) throws {
        var db: OpaquePointer?
        #expect(sqlite3_open(path, &db) == SQLITE_OK)
        defer { sqlite3_close(db) }
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, statements, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "\(rc)"
            sqlite3_free(message)
            throw VellumError(.storage, text)
        }
    }

    @Test("the database refuses UPDATE and DELETE on the log")
    func appendOnly() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        _ = try node.issue(out: scratch.file("a.json"))
        let ledger = node.data + "/ledger.sqlite"
        #expect(throws: VellumError.self) { try sql(ledger, "UPDATE entries SET hlc = 0") }
        #expect(throws: VellumError.self) { try sql(ledger, "DELETE FROM entries") }
        #expect(try node.run(["audit"]).code == 0)
    }

    @Test("an entry changed behind vellum's back makes audit fail and name it")
    func auditNamesTamperedEntry() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let id = try node.issue(out: scratch.file("a.json"))
        #expect(try node.run(["revoke", id]).code == 0)
        let revokeEntry = try node.run(["log", "--json"]).stdout.split(separator: "\n").map { try! JSON(parsing: String($0)) }[1]["id"]!.stringValue!

        // Drop the protections, then turn the revocation into a suspension.
        try sql(node.data + "/ledger.sqlite", """
            DROP TRIGGER entries_append_only_update;
            UPDATE entries SET kind = 3 WHERE seq = 2;
            UPDATE credentials SET status = 'suspended';
            """)
        let audit = try node.run(["audit"])
        #expect(audit.code != 0)
        #expect(audit.stderr.contains("entry \(revokeEntry)"), "\(audit.stderr)")
        #expect(audit.stderr.contains("id does not match"))
    }

    @Test("a materialized state that disagrees with the log makes audit fail")
    func auditChecksMaterializedState() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let id = try node.issue(out: scratch.file("a.json"))
        try sql(node.data + "/ledger.sqlite", "UPDATE credentials SET status = 'revoked'")
        let audit = try node.run(["audit"])
        #expect(audit.code != 0 && audit.stderr.contains("materialized state of \(id)"), "\(audit.stderr)")
    }
}
