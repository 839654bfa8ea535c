import Foundation
import Testing
import VellumCore

/// Runs a Python script of Tests/Interop; its exit status and its output (stdout and stderr).
func python(_ script: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// A credential from `vellum issue` verifies under an independent eddsa-jcs-2022 + RFC 8785
/// implementation (Python's standard library and OpenSSL; Tests/Interop/verify_eddsa_jcs.py).
@Suite("Interoperability with an independent verifier")
struct InteropTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/verify_eddsa_jcs.py").path
    static let vector = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Vectors/eddsa/TestVectors/eddsa-jcs-2022/signedJCS.json").path

    func independentVerify(_ arguments: [String]) throws -> (Int32, String) { try python(Self.script, arguments) }

    @Test("the independent verifier accepts the W3C vector (so it is itself correct)")
    func verifierIsSound() throws {
        let (code, output) = try independentVerify([Self.vector, "--any-issuer"])
        #expect(code == 0, "\(output)")
        #expect(output == "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    }

    @Test("vellum's credentials verify independently, their did:key is the signing key, and tampering is caught")
    func vellumCredential() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        _ = try node.issue(subject: "jürgen@example.de", achievement: "Über-Kurs: Straße & Ωmega ✓", out: scratch.file("c.json"),
                           extra: ["--description", "Tabs\tand \"quotes\" and\nnewlines", "--valid-until", "2032-01-01T00:00:00Z"])
        let (code, output) = try independentVerify([scratch.file("c.json")])
        #expect(code == 0, "\(output)")
        let identity = try node.run(["id", "--json"]).json
        #expect(output == identity["did"]?.stringValue)
        // The did:key decodes to the feed key that signs the node's entries.
        #expect(try DIDKey(parsing: output).publicKey == Hex.decode(identity["feedKey"]!.stringValue!))

        let doc = try JSON(parsing: try scratch.read("c.json"))
        try scratch.write("t.json", doc.setting("validUntil", to: "2099-01-01T00:00:00Z").prettyString)
        let (tamperedCode, tamperedOutput) = try independentVerify([scratch.file("t.json")])
        #expect(tamperedCode != 0 && tamperedOutput.contains("does not verify"))
    }
}

/// Docs/PROTOCOL.md is enough to verify entries: an independent Python implementation of the
/// entry encoding re-derives every id and checks every signature and link of an export.
@Suite("Interoperability: entries verified from the protocol document alone")
struct EntryInteropTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/verify_entries.py").path

    func run(_ file: String) throws -> (Int32, String) { try python(Self.script, [file]) }

    @Test("every entry of two feeds re-encodes to its id, verifies, and links; a tampered one is named")
    func entries() throws {
        let scratch = try Scratch()
        let a = try scratch.initializedNode("a"), b = try scratch.initializedNode("b")
        let id = try a.issue(subject: "did:example:ü", achievement: "Ωmega \"quoted\"", out: scratch.file("1.json"))
        #expect(try a.run(["suspend", id, "--reason", "tab\there"]).code == 0)
        _ = try b.issue(out: scratch.file("2.json"))
        #expect(try b.run(["export", "--out", scratch.file("b.jsonl")]).code == 0)
        #expect(try a.run(["import", scratch.file("b.jsonl")]).code == 0)
        #expect(try a.run(["export", "--out", scratch.file("a.jsonl")]).code == 0)
        let (code, output) = try run(scratch.file("a.jsonl"))
        #expect(code == 0 && output == "8 entries verified", "\(output)")  // 3 issues, 1 suspend, 4 status lists

        try scratch.write("bad.jsonl", try scratch.read("a.jsonl").replacingOccurrences(of: "tab\\there", with: "tab here"))
        let (badCode, badOutput) = try run(scratch.file("bad.jsonl"))
        #expect(badCode != 0 && badOutput.contains("id does not match"))
    }
}

/// A published status list decodes, with nothing but Python's standard library, to exactly the
/// revoked (or suspended) indexes, and its proof verifies independently.
@Suite("Interoperability: status lists")
struct StatusListInteropTests {
    static let decoder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/decode_status_list.py").path

    @Test("revocation and suspension lists carry exactly the right bits, signed by the issuer")
    func statusLists() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode()
        let ids = try (0..<4).map { try node.issue(subject: "did:example:\($0)", out: scratch.file("\($0).json")) }
        #expect(try node.run(["revoke", ids[1]]).code == 0)
        #expect(try node.run(["suspend", ids[2]]).code == 0)
        #expect(try node.run(["suspend", ids[3]]).code == 0)
        #expect(try node.run(["revoke", ids[3]]).code == 0)  // revoked wins: only in the revocation list
        for (purpose, expected) in [("revocation", "[1, 3]"), ("suspension", "[2]")] {
            let r = try node.run(["status-list", "--purpose", purpose, "--out", scratch.file("\(purpose).json")])
            #expect(r.code == 0, "\(r.stderr)")
            let (code, output) = try python(StatusListInteropTests.decoder, [scratch.file("\(purpose).json")])
            #expect(code == 0 && output == "\(purpose) 131072 \(expected)", "\(output)")
            let (proofCode, signer) = try python(InteropTests.script, [scratch.file("\(purpose).json")])
            let did = try node.run(["id", "--json"]).json["did"]?.stringValue
            #expect(proofCode == 0 && signer == did, "\(signer)")
            // The list's URL is the one the credentials name.
            let list = try JSON(parsing: try scratch.read("\(purpose).json"))
            let entry = try JSON(parsing: try scratch.read("1.json"))["credentialStatus"]!.arrayValue!.first { $0["statusPurpose"]?.stringValue == purpose }!
            #expect(list["id"] == entry["statusListCredential"])
        }
        #expect(try node.run(["status-list", "--purpose", "expiry"]).stderr.contains("not revocation or suspension"))
    }
}
