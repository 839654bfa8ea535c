import Foundation
import Testing
import VellumCore

/// A federation run from the CLI alone, with real `vellum` processes: three universities
/// found it (2 of 3), one of them runs two campus nodes; membership, delegation, rotation and
/// compromise replicate by gossip and by file and are enforced on every node.
@Suite("Federation, end to end", .serialized)
struct FederationEndToEndTests {
    /// Registrars' directories, a signed genesis and uninitialized node directories.
    struct World {
        let scratch: Scratch
        var ids: [String: String] = [:]
        let genesis: String

        init(threshold: Int = 2) throws {
            scratch = try Scratch()
            let files = VellumProcess.files
            for (org, name) in [("a", "Aalto University"), ("b", "Universidade de Coimbra"), ("c", "Università di Bologna")] {
                let r = try files.run(["org", "create", "--name", name, "--out", scratch.file(org)])
                #expect(r.code == 0, "\(r.stderr)")
                ids[org] = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            genesis = scratch.file("genesis.json")
            let create = try files.run(
                ["federation", "create", "--name", "Test Federation", "--threshold", String(threshold), "--out", genesis]
                    + ["a", "b", "c"].flatMap { ["--founder", scratch.file($0) + "/org.json"] })
            #expect(create.code == 0, "\(create.stderr)")
        }

        func sign(_ file: String, by orgs: [String]) throws {
            for org in orgs {
                let r = try VellumProcess.files.run(["federation", "sign", file, "--org", scratch.file(org)])
                #expect(r.code == 0, "\(r.stderr)")
            }
        }

        func campus(_ name: String) throws -> VellumProcess {
            let node = scratch.node(name)
            let r = try node.run(["init", "--name", "Campus \(name)", "--federation", genesis])
            #expect(r.code == 0, "\(r.stderr)")
            return node
        }

        /// The organization delegates the campus (optionally naming its gossip endpoint); the
        /// campus publishes the delegation in its own feed. Returns the record file.
        @discardableResult
        func delegate(_ node: VellumProcess, by org: String, endpoint: String? = nil) throws -> String {
            let identity = node.data + ".id.json"
            try node.run(["id", "--json"]).stdout.write(toFile: identity, atomically: true, encoding: .utf8)
            let out = node.data + ".delegation.json"
            let r = try VellumProcess.files.run(
                ["org", "delegate", "--org", scratch.file(org), "--node", identity, "--out", out] + (endpoint.map { ["--endpoint", $0] } ?? []))
            #expect(r.code == 0, "\(r.stderr)")
            let p = try node.run(["publish", out])
            #expect(p.code == 0, "\(p.stderr)")
            return out
        }
    }

    func did(_ node: VellumProcess) throws -> String { try node.run(["id", "--json"]).json["did"]!.stringValue! }

    func status(_ node: VellumProcess, _ id: String) throws -> JSON { try node.run(["status", id, "--json"]).json }

    @Test("genesis, delegation, issuance with parentOrg, a sibling campus's revocation, trust answers; outsiders and other organizations refused")
    func federationFromTheCLI() throws {
        let w = try World()
        // An unsigned genesis founds nothing.
        let early = try w.scratch.node("early").run(["init", "--name", "Early", "--federation", w.genesis])
        #expect(early.code != 0 && early.stderr.contains("not endorsed"), "\(early.stderr)")
        try w.sign(w.genesis, by: ["a", "b", "c"])
        let a1 = try w.campus("a1"), a2 = try w.campus("a2"), b1 = try w.campus("b1")

        // No delegation, no issuance.
        let refused = try a1.run(["issue", "--subject", "did:example:s", "--achievement", "X", "--out", w.scratch.file("x.json")])
        #expect(refused.code != 0 && refused.stderr.contains("no delegation"), "\(refused.stderr)")

        try w.delegate(a1, by: "a")
        try w.delegate(a2, by: "a")
        try w.delegate(b1, by: "b")
        let credentialFile = w.scratch.file("cred.json")
        let id = try a1.issue(out: credentialFile)
        let credential = try JSON(parsing: try w.scratch.read("cred.json"))
        #expect(credential["issuer"]?["id"]?.stringValue == (try did(a1)))
        #expect(credential["issuer"]?["parentOrg"]?["id"]?.stringValue == w.ids["a"])
        #expect(credential["issuer"]?["parentOrg"]?["name"]?.stringValue == "Aalto University")

        // Offline sync by file: a2 (a sibling campus) revokes a1's credential; b1 (another
        // university) cannot.
        let export = w.scratch.file("a1.export")
        #expect(try a1.run(["export", "--out", export]).code == 0)
        for node in [a2, b1] { #expect(try node.run(["import", export]).code == 0) }
        let byOther = try b1.run(["revoke", id])
        #expect(byOther.code != 0 && byOther.stderr.contains("does not act for"), "\(byOther.stderr)")
        let bySibling = try a2.run(["revoke", id, "--reason", "revoked at the sibling campus"])
        #expect(bySibling.code == 0, "\(bySibling.stderr)")
        let back = w.scratch.file("a2.export")
        #expect(try a2.run(["export", "--out", back]).code == 0)
        #expect(try a1.run(["import", back]).code == 0)
        let answer = try status(a1, id)
        #expect(answer["status"]?.stringValue == "revoked")
        #expect(answer["trust"]?["trusted"] == .bool(true))
        #expect(answer["evidence"]?.arrayValue?.count == 2)
        let verified = try a1.run(["verify", credentialFile, "--json"]).json
        #expect(verified["verified"] == .bool(false))
        #expect(verified["trust"]?["organization"]?["name"]?.stringValue == "Aalto University")
        // The issuing campus, on learning of its sibling's revocation, publishes its list afresh.
        #expect(try a1.run(["status-list", "--out", w.scratch.file("list.json")]).code == 0)
        try w.scratch.write("bit.py", """
            import base64, gzip, json, sys
            c = json.load(open(sys.argv[1])); s = c["credentialSubject"]["encodedList"][1:]
            bits = gzip.decompress(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))); i = int(sys.argv[2])
            print("set" if bits[i // 8] & (0x80 >> (i % 8)) else "clear")
            """)
        let index = credential["credentialStatus"]?.arrayValue?.first?["statusListIndex"]?.stringValue ?? "-1"
        let bit = try python(w.scratch.file("bit.py"), [w.scratch.file("list.json"), index])
        #expect(bit.1 == "set", "\(bit.1)")
        let again = w.scratch.file("a1b.export")
        #expect(try a1.run(["export", "--out", again]).code == 0)
        #expect(try a2.run(["import", again]).code == 0)
        #expect(try a1.digest() == (try a2.digest()))

        // The trust answer, with the signed path.
        let trust = try a1.run(["trust", try did(a2), "--json"]).json
        #expect(trust["trusted"] == .bool(true))
        #expect(trust["organization"]?["id"]?.stringValue == w.ids["a"])
        #expect(trust["federation"]?["name"]?.stringValue == "Test Federation")
        #expect((trust["evidence"]?.arrayValue?.count ?? 0) >= 2)

        // An outsider's export (a node of no federation) is refused whole and changes nothing.
        let outsider = try w.scratch.initializedNode("outsider")
        _ = try outsider.issue(out: w.scratch.file("o.json"))
        let theirs = w.scratch.file("outsider.export")
        #expect(try outsider.run(["export", "--out", theirs]).code == 0)
        let before = try a1.digest()
        let imported = try a1.run(["import", theirs])
        #expect(imported.code != 0 && imported.stderr.contains("refused whole"), "\(imported.stderr)")
        #expect(try a1.digest() == before)
        let untrusted = try a1.run(["trust", try did(outsider), "--json"]).json
        #expect(untrusted["trusted"] == .bool(false))
        #expect(untrusted["reason"]?.stringValue?.contains("no delegation") == true)

        // Another federation's genesis cannot be published here.
        let other = try World()
        try other.sign(other.genesis, by: ["a", "b", "c"])
        let foreign = try a1.run(["publish", other.genesis])
        #expect(foreign.code != 0 && foreign.stderr.contains("this node is in Test Federation"), "\(foreign.stderr)")
    }

    @Test("K-of-N admission through the CLI: a proposal short of K names the missing signatures; once published, every node admits")
    func admission() throws {
        let w = try World()
        try w.sign(w.genesis, by: ["a", "b", "c"])
        let a1 = try w.campus("a1")
        try w.delegate(a1, by: "a")
        let d = try VellumProcess.files.run(["org", "create", "--name", "TU Delft", "--out", w.scratch.file("d")])
        let delft = d.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let proposal = w.scratch.file("admit.json")
        #expect(try a1.run(["federation", "propose", "admit", "--record", w.scratch.file("d") + "/org.json", "--out", proposal]).code == 0)
        try w.sign(proposal, by: ["a"])
        let duplicate = try VellumProcess.files.run(["federation", "sign", proposal, "--org", w.scratch.file("a")])
        #expect(duplicate.code != 0 && duplicate.stderr.contains("already signed"), "\(duplicate.stderr)")
        let short = try a1.run(["publish", proposal])
        #expect(short.code != 0 && short.stderr.contains("1 missing"), "\(short.stderr)")
        try w.sign(proposal, by: ["c"])
        let done = try a1.run(["publish", proposal])
        #expect(done.code == 0, "\(done.stderr)")
        let show = try a1.run(["federation", "show", "--json"]).json
        #expect(show["members"]?.arrayValue?.compactMap { $0["id"]?.stringValue }.contains(delft) == true)
        #expect(show["version"]?["number"]?.numberValue == 1)
        #expect(show["threshold"]?.numberValue == 2)
        // The same proposal again: signed against version 0, stale now.
        let stale = try a1.run(["publish", proposal])
        #expect(stale.code != 0 && stale.stderr.contains("another membership version"), "\(stale.stderr)")
        #expect(try a1.run(["trust", delft, "--json"]).json["trusted"] == .bool(true))

        // A delegation whose `until` has passed: the campus node refuses to issue under it.
        let a2 = try w.campus("a2")
        let identity = a2.data + ".id.json"
        try a2.run(["id", "--json"]).stdout.write(toFile: identity, atomically: true, encoding: .utf8)
        let expired = w.scratch.file("expired.json")
        #expect(try VellumProcess.files.run(["org", "delegate", "--org", w.scratch.file("a"), "--node", identity, "--until", "2020-01-01", "--out", expired]).code == 0)
        #expect(try a2.run(["publish", expired]).code == 0)
        let late = try a2.run(["issue", "--subject", "did:example:s", "--achievement", "X", "--out", w.scratch.file("late.json")])
        #expect(late.code != 0 && late.stderr.contains("ended at 2020-01-01"), "\(late.stderr)")
    }

    @Test("rotation: the committed key is accepted; a document signed with the rotated-out key afterwards is refused")
    func rotation() throws {
        let w = try World()
        try w.sign(w.genesis, by: ["a", "b", "c"])
        let a1 = try w.campus("a1")
        // Keep a copy of the organization's directory as it was before rotating.
        let old = w.scratch.file("a-old")
        try FileManager.default.copyItem(atPath: w.scratch.file("a"), toPath: old)
        let rotated = w.scratch.file("rotated.json")
        #expect(try VellumProcess.files.run(["org", "rotate", "--org", w.scratch.file("a"), "--out", rotated]).code == 0)
        #expect(try a1.run(["publish", rotated]).code == 0)
        try w.delegate(a1, by: "a")  // signed with the new key: accepted
        #expect(try a1.run(["trust", try did(a1), "--json"]).json["trusted"] == .bool(true))
        // The old key (the copy) signs a delegation after the rotation: refused, nothing changes.
        let identity = a1.data + ".id.json"
        let stolen = w.scratch.file("stolen.json")
        #expect(try VellumProcess.files.run(["org", "delegate", "--org", old, "--node", identity, "--out", stolen]).code == 0)
        let before = try a1.digest()
        let r = try a1.run(["publish", stolen])
        #expect(r.code != 0 && r.stderr.contains("not valid in its organization's log"), "\(r.stderr)")
        #expect(try a1.digest() == before)
    }

    @Test("gossip without peer add: delegated campuses admit each other; a compromise cut through S holds on every node in every arrival order, and the cut-off node is refused")
    func gossipAndCompromise() throws {
        let w = try World()
        try w.sign(w.genesis, by: ["a", "b", "c"])
        let a1 = try w.campus("a1"), a2 = try w.campus("a2"), b1 = try w.campus("b1")
        let nodes = [a1, a2, b1]
        var daemons = try nodes.map { try NodeProcess($0) }
        // Each campus is delegated with its endpoint, then the final records are published
        // everywhere, so every node knows every other's key and address.
        try w.delegate(a1, by: "a", endpoint: daemons[0].endpoint)
        try w.delegate(a2, by: "a", endpoint: daemons[1].endpoint)
        let bRecord = try w.delegate(b1, by: "b", endpoint: daemons[2].endpoint)
        for node in [a1, a2] { #expect(try node.run(["publish", bRecord]).code == 0) }
        #expect(try b1.run(["publish", w.scratch.file("a") + "/org.json"]).code == 0)

        let x = try a1.issue(out: w.scratch.file("x.json"))
        let y = try a1.issue(subject: "did:example:bob", out: w.scratch.file("y.json"))
        try eventually(30, "every node holds both credentials", logs: nodes) {
            try nodes.allSatisfy { try status($0, y)["status"]?.stringValue == "active" }
        }
        // a2 suspends x; everyone sees it.
        #expect(try a2.run(["suspend", x]).code == 0)
        try eventually(30, "the sibling's suspension reaches every node", logs: nodes) {
            try nodes.allSatisfy { try status($0, x)["status"]?.stringValue == "suspended" }
        }

        // a2's key is stolen: partitioned, it keeps issuing and changing statuses while Aalto
        // cuts it off as compromised through its current head.
        daemons[1].stop()
        let feedKey = try a2.run(["id", "--json"]).json["feedKey"]!.stringValue!
        let own = try a2.run(["log", "--json"]).stdout.split(separator: "\n").map { try JSON(parsing: String($0)) }
            .filter { $0["feed"]?.stringValue == feedKey }
        let s = try #require(own.max { $0["seq"]!.numberValue! < $1["seq"]!.numberValue! })
        let (cutSeq, cutID) = (Int(s["seq"]!.numberValue!), s["id"]!.stringValue!)
        let late = try a2.issue(subject: "did:example:mallory", out: w.scratch.file("late.json"))
        #expect(try a2.run(["reinstate", x]).code == 0)
        #expect(try a2.run(["revoke", y]).code == 0)
        let cut = w.scratch.file("cut.json")
        let u = try VellumProcess.files.run(
            ["org", "undelegate", "--org", w.scratch.file("a"), "--feed", try did(a2), "--through", String(cutSeq), "--entry", cutID,
             "--reason", "compromised", "--out", cut])
        #expect(u.code == 0, "\(u.stderr)")
        #expect(try a1.run(["publish", cut]).code == 0)

        // The cut-off node comes back: the others refuse it, so nothing it wrote after S
        // reaches them over the wire.
        try eventually(30, "b1 holds the cut", logs: nodes) {
            try b1.run(["trust", try did(a2), "--json"]).json["reason"]?.stringValue?.contains("compromised") == true
        }
        sleep(1)  // the daemons re-read their allow-lists twice a second
        daemons[1] = try NodeProcess(a2)
        sleep(3)
        let lateAtA1 = try a1.run(["status", late, "--json"]).stdout
        let logs = [a1, a2, b1].map { "--- \($0.data)\n" + ((try? String(contentsOfFile: $0.data + ".log", encoding: .utf8)) ?? "") }.joined()
        #expect(try status(a1, late)["status"]?.stringValue == "unknown", "\(lateAtA1)\n\(logs)")
        #expect(try status(b1, late)["status"]?.stringValue == "unknown")
        // And its entries arrive anyway, by file: stored, counting for nothing after S.
        let stolen = w.scratch.file("stolen.export")
        #expect(try a2.run(["export", "--out", stolen]).code == 0)
        #expect(try b1.run(["import", stolen]).code == 0)
        try eventually(30, "a1 and b1 converge", logs: nodes) { try a1.digest() == (try b1.digest()) }
        for node in [a1, b1] {
            #expect(try status(node, x)["status"]?.stringValue == "suspended", "the reinstate after S counts for nothing")
            #expect(try status(node, y)["status"]?.stringValue == "active", "the revoke after S counts for nothing")
            let l = try status(node, late)
            #expect(l["status"]?.stringValue == "revoked", "issued after the cut: revoked")
            #expect(l["trust"]?["reason"]?.stringValue?.contains("compromised") == true)
            let audit = try node.run(["audit", "--json"]).json
            #expect(audit["ok"] == .bool(true))
            #expect(audit["notes"]?.arrayValue?.contains { $0.stringValue?.contains("after seq \(cutSeq) count for nothing (compromised") == true } == true, "\(audit)")
        }
        for d in daemons { d.stop() }
    }

    @Test("HTTP: the trust answer, TRQP authorization and recognition, and a sibling's revocation checked by a remote client")
    func trustOverHTTP() throws {
        let w = try World()
        try w.sign(w.genesis, by: ["a", "b", "c"])
        let a1 = try w.campus("a1"), a2 = try w.campus("a2")
        try w.delegate(a1, by: "a")
        try w.delegate(a2, by: "a")
        let id = try a1.issue(out: w.scratch.file("x.json"))
        let export = w.scratch.file("a1.export")
        #expect(try a1.run(["export", "--out", export]).code == 0)
        #expect(try a2.run(["import", export]).code == 0)
        #expect(try a2.run(["revoke", id]).code == 0)
        let daemon = try NodeProcess(a2, http: true)
        defer { daemon.stop() }
        let base = daemon.httpURL
        let federation = try a2.run(["federation", "show", "--json"]).json["id"]!.stringValue!

        let (code, body) = try http("GET", base + "/v1/issuers/" + (try did(a1)))
        #expect(code == 200)
        let trust = try JSON(parsing: body)
        #expect(trust["trusted"] == .bool(true))
        #expect(trust["organization"]?["name"]?.stringValue == "Aalto University")
        #expect((try http("GET", base + "/v1/issuers/did:key:nonsense")).0 == 400)

        func trqp(_ path: String, _ entity: String, _ action: String, authority: String = federation) throws -> JSON {
            let query: JSON = ["entity_id": .string(entity), "authority_id": .string(authority), "action": .string(action), "resource": "credentials"]
            let (code, body) = try http("POST", base + path, body: query.canonicalString)
            #expect(code == 200, "\(body)")
            return try JSON(parsing: body)
        }
        #expect(try trqp("/authorization", try did(a1), "revoke")["authorized"] == .bool(true))
        #expect(try trqp("/authorization", try did(a1), "issue", authority: "did:vellum:zOther")["authorized"] == .bool(false))
        // An issuer this node knows nothing of, on a node that never caught up with a peer:
        // "unchecked", not "no".
        let stranger = try w.scratch.initializedNode("stranger")
        let unknown = try trqp("/authorization", try did(stranger), "issue")
        #expect(unknown["authorized"] == .bool(false))
        #expect(unknown["ext"]?["io.vellum"]?["answer"]?.stringValue == "unchecked")
        #expect(try trqp("/recognition", w.ids["b"]!, "recognize")["recognized"] == .bool(true))
        #expect(try trqp("/recognition", "did:vellum:zNobody", "recognize")["recognized"] == .bool(false))

        // VC-API verification carries the trust answer too.
        let vcapi = try http("POST", base + "/credentials/verify", body: "{\"verifiableCredential\": \(try w.scratch.read("x.json"))}")
        #expect(vcapi.0 == 200)
        #expect(try JSON(parsing: vcapi.1)["trust"]?["organization"]?["name"]?.stringValue == "Aalto University")

        // A client checks the sibling-revoked answer's evidence, trust path included.
        let remote = try a1.run(["status", id, "--node", base, "--json"])
        #expect(remote.code == 0, "\(remote.stderr)")
        #expect(remote.json["status"]?.stringValue == "revoked")

        // The verifier page names the university as the registry knows it, whatever the
        // credential calls itself.
        let credential = try w.scratch.read("x.json").replacingOccurrences(of: "\"Aalto University\"", with: "\"Harvard\"")
        try w.scratch.write("renamed.json", credential)
        let (pageCode, output) = try python(VerifierPageTests.driver, [base, w.scratch.file("x.json"), w.scratch.file("renamed.json")])
        #expect(pageCode == 0, "\(output)")
        let pages = output.split(separator: "\n").compactMap { try? JSON(parsing: String($0)) }
        #expect(pages.count == 2)
        for page in pages { #expect(page["organization"]?.stringValue?.hasPrefix("Aalto University") == true, "\(page)") }
        #expect(pages.first?["recognised"]?.stringValue?.hasPrefix("yes") == true)
    }
}
