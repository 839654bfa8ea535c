import Foundation
import Testing
import VellumCore

@Suite("vellum CLI: bulk issuance and offline sync")
struct BulkAndExchangeTests {
    @Test("10,000 rows from CSV: one verified credential file per row, a manifest, a clean audit")
    func bulk10k() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        var csv = "subject,achievement,achievement-type,description,criteria,valid-until\r\n"
        for i in 0..<10_000 {
            csv += "student\(i)@example.edu,\"Data Science, Level \(i % 3 + 1)\",MicroCredential,\"Says \"\"hello\"\"\",Pass the exam,2030-06-30\r\n"
        }
        try scratch.write("cohort.csv", csv)
        let r = try node.run(["issue", "--csv", scratch.file("cohort.csv"), "--out-dir", scratch.file("out"), "--json"], timeout: 600)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.json["issued"] == 10_000)
        let files = try FileManager.default.contentsOfDirectory(atPath: scratch.file("out")).filter { $0.hasSuffix(".json") }
        #expect(files.count == 10_000)
        let manifest = try scratch.read("out/manifest.csv").split(separator: "\n")
        #expect(manifest.count == 10_001 && manifest[1].hasPrefix("2,urn:uuid:"))

        let sample = try JSON(parsing: try scratch.read("out/" + files[1234]))
        #expect(sample["credentialSubject"]?["achievement"]?["description"] == "Says \"hello\"")
        #expect(sample["name"]?.stringValue?.hasPrefix("Data Science, Level") == true)
        #expect(try node.run(["verify", scratch.file("out/" + files[1234])]).code == 0)

        // Status list indexes are distinct.
        let indexes = Set(try files.prefix(500).map { try JSON(parsing: try scratch.read("out/" + $0))["credentialStatus"]!.arrayValue![0]["statusListIndex"]!.stringValue! })
        #expect(indexes.count == 500)

        let audit = try node.run(["audit", "--json"])
        #expect(audit.code == 0 && audit.json["credentials"] == 10_000)
    }

    @Test("--csv with --out FILE.jsonl: one credential per line in row order, each verifies; a re-run issues nothing; another file is not replaced")
    func bulkJSONLines() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        var csv = "subject,achievement\n"
        for i in 0..<2_500 { csv += "student\(i)@example.edu,Course \(i % 7)\n" }
        try scratch.write("cohort.csv", csv)
        let r = try node.run(["issue", "--csv", scratch.file("cohort.csv"), "--out", scratch.file("cohort.jsonl"), "--json"], timeout: 300)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.json["issued"] == 2_500 && r.json["out"]?.stringValue == scratch.file("cohort.jsonl"))
        let lines = try scratch.read("cohort.jsonl").split(separator: "\n")
        #expect(lines.count == 2_500)
        let credentials = try lines.map { try JSON(parsing: Array($0.utf8)) }
        #expect(credentials[0]["credentialSubject"]?["id"]?.stringValue == "mailto:student0@example.edu")
        #expect(credentials[2_499]["credentialSubject"]?["id"]?.stringValue == "mailto:student2499@example.edu")
        try scratch.write("one.json", String(lines[1_234]))
        #expect(try node.run(["verify", scratch.file("one.json")]).code == 0)

        // The same file again issues nothing and writes the same lines; another file does not replace them.
        let before = try node.digest()
        let written = try scratch.read("cohort.jsonl")
        let again = try node.run(["issue", "--csv", scratch.file("cohort.csv"), "--out", scratch.file("cohort.jsonl"), "--json"])
        #expect(again.code == 0 && again.json["issued"] == 0 && again.json["alreadyIssued"] == 2_500, "\(again.stderr)")
        #expect(try scratch.read("cohort.jsonl") == written)
        try scratch.write("other.csv", "subject,achievement\nother@example.edu,Other\n")
        let clobber = try node.run(["issue", "--csv", scratch.file("other.csv"), "--out", scratch.file("cohort.jsonl")])
        #expect(clobber.code != 0 && clobber.stderr.contains("cohort.jsonl already exists"), "\(clobber.stderr)")
        let wrongName = try node.run(["issue", "--csv", scratch.file("cohort.csv"), "--out", scratch.file("cohort.json")])
        #expect(wrongName.code != 0 && wrongName.stderr.contains("FILE.jsonl"), "\(wrongName.stderr)")
        #expect(try node.digest() == before)
    }

    @Test("a bad row names FILE:LINE and nothing is issued", arguments: [
        ("subject,achievement\nalice@example.edu,Intro\nbob@example.edu,\n", ":3:", "achievement name is empty"),
        ("subject,achievement,valid-until\nalice@example.edu,Intro,2030-01-01\n\"carol,Intro,2030-01-01\n", ":3:", "never closed"),
        ("subject,achievement,valid-until\na@example.edu,X,2030-01-01\nb@example.edu,Y,2030-13-01\n", ":3:", "valid-until"),
        ("subject,achievement\na@example.edu,X\nb@example.edu,Y,extra\n", ":3:", "3 fields, the header has 2"),
        ("subject,achievment\na@example.edu,X\n", ":1:", "unknown column 'achievment'"),
        ("subject,achievement\n", "", "no rows"),
        ("subject,achievement\n\"a@example.edu\",\"multi\nline\"\nnot an email,Z\n", ":4:", "subject 'not an email'"),
    ])
    func badCSV(csv: String, location: String, message: String) throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let before = try node.digest()
        try scratch.write("bad.csv", csv)
        let r = try node.run(["issue", "--csv", scratch.file("bad.csv"), "--out-dir", scratch.file("out")])
        #expect(r.code != 0)
        #expect(r.stderr.contains("bad.csv\(location)"), "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(try node.digest() == before)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("out")))
    }

    @Test("export/import converges two campuses, twice is a no-op, and bad files change nothing")
    func exchange() throws {
        let scratch = try Scratch()
        let north = try scratch.initializedNode("north", institution: "North Campus")
        let south = try scratch.initializedNode("south", institution: "South Campus")
        let a = try north.issue(out: scratch.file("a.json"))
        _ = try north.issue(subject: "did:example:bob", out: scratch.file("b.json"))
        #expect(try north.run(["suspend", a]).code == 0)
        let c = try south.issue(subject: "did:example:carol", out: scratch.file("c.json"))
        #expect(try south.run(["revoke", c]).code == 0)

        #expect(try north.run(["export", "--out", scratch.file("north.jsonl")]).code == 0)
        #expect(try south.run(["export", "--out", scratch.file("south.jsonl")]).code == 0)
        let imported = try south.run(["import", scratch.file("north.jsonl"), "--json"])
        // Two issues, a suspend, and the signed status lists they published (two opened, one changed).
        #expect(imported.code == 0 && imported.json["added"] == 6, "\(imported.stderr)")
        #expect(try north.run(["import", scratch.file("south.jsonl")]).code == 0)
        let root = try north.digest()
        #expect(try south.digest() == root)

        // Idempotent.
        let again = try south.run(["import", scratch.file("north.jsonl"), "--json"])
        #expect(again.code == 0 && again.json["added"] == 0)
        #expect(try south.digest() == root)

        // Any replica answers for any issuer, and the suspension travelled.
        let status = try south.run(["status", a, "--json"])
        #expect(status.json["status"] == "suspended")
        #expect(try south.run(["verify", scratch.file("b.json")]).code == 0)
        // Only the issuer may change a credential's status.
        let foreign = try south.run(["revoke", a])
        #expect(foreign.code != 0 && foreign.stderr.contains("not by this node"))

        // Tampered, truncated and forged exports are refused whole.
        let export = try scratch.read("north.jsonl")
        let fresh = try scratch.initializedNode("fresh")
        let freshRoot = try fresh.digest()
        let tampered = export.replacingOccurrences(of: "\"kind\":\"suspend\"", with: "\"kind\":\"reinstate\"")
        #expect(tampered != export)
        let lines = export.split(separator: "\n")
        let cases: [(String, String, String)] = [
            ("tampered.jsonl", tampered, "id does not match"),
            ("truncated.jsonl", lines.dropLast().joined(separator: "\n") + "\n", "truncated"),
            ("cut.jsonl", String(export.prefix(export.count / 2)), "truncated"),
            ("gap.jsonl", ([lines[0], lines[2], lines[3]] + [#"{"end":true,"entries":2}"#]).joined(separator: "\n") + "\n", "does not follow"),
            ("garbage.jsonl", "hello\n", "not a Vellum export"),
            ("huge.jsonl", "\(lines[0])\n{\"end\":true,\"entries\":1e300}\n", "promises 1e+300 entries"),
            ("badline.jsonl", "\(lines[0])\n{\"v\":1,\"seq\":1e20}\n{\"end\":true,\"entries\":1}\n", ":2:"),
        ]
        for (name, text, message) in cases {
            try scratch.write(name, text)
            let r = try fresh.run(["import", scratch.file(name)])
            #expect(r.code != 0, "\(name) imported")
            #expect(r.stderr.contains(message), "\(name): \(r.stderr)")
            #expect(try fresh.digest() == freshRoot, "\(name) changed the replica")
        }
    }
}
