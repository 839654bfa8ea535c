@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore

/// The attack of issue 8 as an outsider mounts it from the public docs (Docs/LEDGER.md, the
/// export format): a fresh Ed25519 key writes validly signed entries of its own feed about
/// another issuer's credential id, stamped 1 ms after the epoch so they sort first, and hands
/// them over in an export file.
struct Stranger {
    var writer = FeedWriter(key: Curve25519.Signing.PrivateKey(), head: nil, clock: HLC(rawValue: 0))
    var did: String { writer.feed.didKey.did }

    /// An issue of `id` in the stranger's own name, and a reinstate of it.
    mutating func takeOver(_ id: String) -> [Entry] {
        writer.append(
            [(.issue, issuePayload(id, issuer: writer.feed.didKey)), (.reinstate, .status(StatusPayload(credentialID: id)))],
            now: Timestamp(millisecondsSinceEpoch: 1)
        ).map(\.entry)
    }

    static func exportFile(_ entries: [Entry]) -> String {
        ([#"{"format":"vellum-export","version":1}"#] + entries.map(\.json.canonicalString) + [#"{"end":true,"entries":\#(entries.count)}"#])
            .joined(separator: "\n") + "\n"
    }
}

@Suite("Security: a stranger cannot take over a credential; acceptance does not depend on arrival order")
struct TakeoverTests {
    @Test("a stranger's earlier issue and reinstate of revoked and suspended ids, imported on the issuer's node, change nothing of them")
    func takeover() throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode("issuer")
        let ids = try (0..<3).map { try node.issue(subject: "did:example:\($0)", out: scratch.file("\($0).json")) }
        #expect(try node.run(["revoke", ids[0]]).code == 0)
        #expect(try node.run(["suspend", ids[1]]).code == 0)
        let did = try node.run(["id", "--json"]).json["did"]!.stringValue!

        var stranger = Stranger()
        try scratch.write("stranger.jsonl", Stranger.exportFile(ids.flatMap { stranger.takeOver($0) }))
        let imported = try node.run(["import", scratch.file("stranger.jsonl")])
        #expect(imported.code == 0, "\(imported.stderr)")

        // The issuer's credentials keep their issuer, their issue entry and their status.
        for (id, status) in zip(ids, ["revoked", "suspended", "active"]) {
            let answer = try node.run(["status", id, "--json"]).json
            #expect(answer["status"]?.stringValue == status && answer["issuer"]?.stringValue == did, "\(id): \(answer.canonicalString)")
        }
        // The issuer still decides: it can reinstate and revoke its own.
        #expect(try node.run(["reinstate", ids[1]]).code == 0)
        #expect(try node.run(["revoke", ids[2]]).code == 0)
        let verify = try node.run(["verify", scratch.file("2.json"), "--json"])
        #expect(verify.code != 0 && verify.json["status"]?.stringValue == "revoked")

        // Its next signed revocation list sets exactly its revoked credentials' bits.
        #expect(try node.run(["status-list", "--purpose", "revocation", "--out", scratch.file("revocation.json")]).code == 0)
        let index = { (n: Int) in try! JSON(parsing: try! scratch.read("\(n).json"))["credentialStatus"]!.arrayValue![0]["statusListIndex"]!.stringValue! }
        let (code, bits) = try python(StatusListInteropTests.decoder, [scratch.file("revocation.json")])
        #expect(code == 0 && bits == "revocation 131072 [\(index(0)), \(index(2))]", "\(bits)")

        // The stranger's entries are its own credentials, reported by the audit.
        let theirs = try node.run(["status", ids[0], "--issuer", stranger.did, "--json"]).json
        #expect(theirs["issuer"]?.stringValue == stranger.did && theirs["status"]?.stringValue == "active")
        let audit = try node.run(["audit", "--json"]).json
        #expect(audit["ok"] == true)
        let notes = audit["notes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(ids.allSatisfy { id in notes.contains { $0.contains(id) && $0.contains("issued by 2 feeds") } }, "\(notes)")

        // On a replica that holds both, a bare id is ambiguous rather than answered for the first comer.
        let replica = try scratch.initializedNode("replica")
        #expect(try node.run(["export", "--out", scratch.file("all.jsonl")]).code == 0)
        #expect(try replica.run(["import", scratch.file("all.jsonl")]).code == 0)
        let ambiguous = try replica.run(["status", ids[0]])
        #expect(ambiguous.code != 0 && ambiguous.stderr.contains("issued by 2 issuers"), "\(ambiguous.stderr)")
        #expect(try replica.run(["status", ids[0], "--issuer", did, "--json"]).json["status"]?.stringValue == "revoked")
        #expect(try replica.digest() == node.digest())
    }

    @Test("the same entries in any order, by file or by gossip: all stored, one state root, no relay punished")
    func arrivalOrder() throws {
        let scratch = try Scratch()
        let issuer = try scratch.initializedNode("issuer")
        let id = try issuer.issue(out: scratch.file("c.json"))
        let did = try issuer.run(["id", "--json"]).json["did"]!.stringValue!
        #expect(try issuer.run(["revoke", id]).code == 0)
        #expect(try issuer.run(["export", "--out", scratch.file("genuine.jsonl")]).code == 0)
        var stranger = Stranger()
        try scratch.write("stranger.jsonl", Stranger.exportFile(stranger.takeOver(id)))

        // By file: the stranger's entries first on one replica, last on the other.
        let first = try scratch.initializedNode("first"), last = try scratch.initializedNode("last")
        for file in ["stranger.jsonl", "genuine.jsonl"] {
            let r = try first.run(["import", scratch.file(file)])
            #expect(r.code == 0, "\(file) after the stranger's: \(r.stderr)")
        }
        for file in ["genuine.jsonl", "stranger.jsonl"] { #expect(try last.run(["import", scratch.file(file)]).code == 0) }
        #expect(try first.digest() == last.digest())
        for replica in [first, last] {
            #expect(try replica.run(["status", id, "--issuer", did, "--json"]).json["status"] == "revoked")
        }

        // By gossip: a replica holding the stranger's entry pulls the issuer's feed and pushes
        // the stranger's; neither side refuses anything or records the other as misbehaving.
        let relay = try scratch.initializedNode("relay")
        #expect(try relay.run(["import", scratch.file("stranger.jsonl")]).code == 0)
        let daemon = try NodeProcess(issuer)
        defer { daemon.stop() }
        try relay.addPeer(issuer, at: daemon.endpoint)
        try issuer.addPeer(relay, at: "tcp://127.0.0.1:9")
        var synced = false
        try eventually(20, "a sync between the relay and the issuer", logs: [issuer]) {
            synced = try relay.run(["sync", "--peer", daemon.endpoint]).code == 0
            return synced
        }
        #expect(try relay.digest() == first.digest())
        #expect(try issuer.digest() == first.digest())
        #expect(try issuer.run(["rejections", "--json"]).json.arrayValue?.isEmpty == true)
        #expect(try relay.run(["status", id, "--issuer", did]).stdout.contains("revoked"))
    }
}
