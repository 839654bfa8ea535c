import Foundation
import Testing
import VellumCore

@Suite("Replication between real vellum nodes over CURVE ZeroMQ", .serialized)
struct ReplicationTests {
    /// Nodes that all know each other.
    static func mesh(_ scratch: Scratch, _ names: [String]) throws -> ([VellumProcess], [NodeProcess]) {
        let clis = try names.map { try scratch.initializedNode($0, institution: "Campus \($0)") }
        let daemons = try clis.map { try NodeProcess($0) }
        for (i, a) in clis.enumerated() {
            for (j, b) in clis.enumerated() where i != j { try a.addPeer(b, at: daemons[j].endpoint) }
        }
        return (clis, daemons)
    }

    @Test("three nodes issue on each side and converge to one digest")
    func threeNodes() throws {
        let scratch = try Scratch()
        let (nodes, daemons) = try Self.mesh(scratch, ["a", "b", "c"])
        var ids: [String] = []
        for (i, node) in nodes.enumerated() {
            for k in 0..<3 { ids.append(try node.issue(subject: "did:example:\(i)-\(k)", out: scratch.file("\(i)-\(k).json"))) }
        }
        try eventually(30, "convergence", logs: nodes) { try digests(nodes).count == 1 && (try nodes[0].credentials()) == 9 }
        for node in nodes {
            for id in ids { #expect(try node.run(["status", id, "--json"]).json["status"] == "active") }
        }
        // Once connected, a new local entry is pushed promptly (polled every 200 ms), not at the
        // next anti-entropy round.
        let late = try nodes[0].issue(subject: "did:example:late", out: scratch.file("late.json"))
        let issued = Date()
        try eventually(5, "the push") { try nodes[1].run(["status", late, "--json"]).json["status"] == "active" }
        #expect(Date().timeIntervalSince(issued) < 2.5, "took \(Date().timeIntervalSince(issued)) s")
        for d in daemons { #expect(d.stop() == 0) }
    }

    @Test("a partitioned campus keeps working offline and converges when it returns")
    func partition() throws {
        let scratch = try Scratch()
        let (nodes, daemons) = try Self.mesh(scratch, ["a", "b", "c"])
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        let a1 = try a.issue(subject: "did:example:a1", out: scratch.file("a1.json"))
        let b1 = try b.issue(subject: "did:example:b1", out: scratch.file("b1.json"))
        try eventually(30, "first convergence", logs: nodes) { try digests(nodes).count == 1 && (try c.credentials()) == 2 }

        // Cut C off.
        #expect(daemons[2].stop() == 0)
        let a2 = try a.issue(subject: "did:example:a2", out: scratch.file("a2.json"))
        #expect(try a.run(["revoke", a1, "--reason", "fraud"]).code == 0)
        #expect(try b.run(["suspend", b1]).code == 0)
        // C, offline: issues, suspends, reinstates and revokes its own credentials.
        let c1 = try c.issue(subject: "did:example:c1", out: scratch.file("c1.json"))
        let c2 = try c.issue(subject: "did:example:c2", out: scratch.file("c2.json"))
        #expect(try c.run(["suspend", c1]).code == 0)
        #expect(try c.run(["reinstate", c1]).code == 0)
        #expect(try c.run(["revoke", c2, "--reason", "revoked offline"]).code == 0)
        #expect(try c.run(["status", a1, "--json"]).json["status"] == "active")  // C has not heard yet

        // C returns on a new port: tell A and B where it is now.
        let back = try NodeProcess(c)
        try a.addPeer(c, at: back.endpoint)
        try b.addPeer(c, at: back.endpoint)
        try eventually(30, "convergence after the partition", logs: nodes) { try digests(nodes).count == 1 && (try a.credentials()) == 5 }
        let expected = [a1: "revoked", a2: "active", b1: "suspended", c1: "active", c2: "revoked"]
        for node in nodes {
            for (id, status) in expected {
                #expect(try node.run(["status", id, "--json"]).json["status"]?.stringValue == status, "\(node.data) \(id)")
            }
            #expect(try node.run(["audit"]).code == 0)
        }
        for d in [daemons[0], daemons[1], back] { #expect(d.stop() == 0) }
    }

    @Test("five nodes in a line: entries reach the far end through gossip")
    func line() throws {
        let scratch = try Scratch()
        let nodes = try (0..<5).map { try scratch.initializedNode("n\($0)", institution: "Node \($0)") }
        let daemons = try nodes.map { try NodeProcess($0) }
        for i in 0..<4 {
            try nodes[i].addPeer(nodes[i + 1], at: daemons[i + 1].endpoint)
            try nodes[i + 1].addPeer(nodes[i], at: daemons[i].endpoint)
        }
        let id = try nodes[0].issue(out: scratch.file("x.json"))
        let far = try nodes[4].issue(subject: "did:example:far", out: scratch.file("far.json"))
        try eventually(30, "the far end", logs: nodes) {
            try nodes[4].run(["status", id, "--json"]).json["status"] == "active"
                && nodes[0].run(["status", far, "--json"]).json["status"] == "active"
        }
        try eventually(30, "convergence") { try digests(nodes).count == 1 }
        for d in daemons { #expect(d.stop() == 0) }
    }

    @Test("vellum sync reconciles both ways once and reports what moved")
    func oneShotSync() throws {
        let scratch = try Scratch()
        let campus = try scratch.initializedNode("campus")
        let laptop = try scratch.initializedNode("laptop")
        let daemon = try NodeProcess(campus)
        try campus.addPeer(laptop, at: "tcp://127.0.0.1:9")  // the laptop never listens; its key is what matters
        try laptop.addPeer(campus, at: daemon.endpoint)
        for i in 0..<5 { _ = try campus.issue(subject: "did:example:c\(i)", out: scratch.file("c\(i).json")) }
        for i in 0..<3 { _ = try laptop.issue(subject: "did:example:l\(i)", out: scratch.file("l\(i).json")) }
        var sync = try laptop.run(["sync", "--peer", daemon.endpoint, "--json"])
        for _ in 0..<20 where sync.code != 0 {  // the campus re-reads its allow-list twice a second
            usleep(250_000)
            sync = try laptop.run(["sync", "--peer", daemon.endpoint, "--json"])
        }
        #expect(sync.code == 0, "\(sync.stderr)")
        // The issues, and each side's first signed status lists (revocation and suspension).
        #expect(sync.json["pulled"] == 7 && sync.json["pushed"] == 5)
        #expect(try campus.digest() == laptop.digest())
        let again = try laptop.run(["sync", "--peer", daemon.endpoint, "--json"])
        #expect(again.json["pulled"] == 0 && again.json["pushed"] == 0 && again.json["roundTrips"] == 1)
        #expect(daemon.stop() == 0)
    }

    @Test("kill -9 in the middle of a catch-up, 20 times: audit passes and nothing stored is lost")
    func killDuringSync() throws {
        let scratch = try Scratch()
        let source = try scratch.initializedNode("source")
        var csv = "subject,achievement\n"
        for i in 0..<6000 { csv += "s\(i)@example.edu,Course \(i % 7)\n" }
        try scratch.write("bulk.csv", csv)
        #expect(try source.run(["issue", "--csv", scratch.file("bulk.csv"), "--out-dir", scratch.file("out")], timeout: 300).code == 0)
        let sourceDaemon = try NodeProcess(source)
        let sink = try scratch.initializedNode("sink")
        try sink.addPeer(source, at: sourceDaemon.endpoint)
        try source.addPeer(sink, at: "tcp://127.0.0.1:9")
        var held = 0
        for round in 0..<20 {
            let daemon = try NodeProcess(sink)
            usleep(UInt32.random(in: 50_000...400_000))
            daemon.kill9()
            let audit = try sink.run(["audit", "--json"])
            #expect(audit.code == 0, "round \(round): \(audit.stderr)")
            let now = Int(audit.json["entries"]?.numberValue ?? -1)
            #expect(now >= held, "round \(round): entries went from \(held) to \(now)")
            held = now
        }
        let daemon = try NodeProcess(sink)
        try eventually(60, "catch-up", logs: [sink, source]) { try sink.credentials() == 6000 }
        #expect(try sink.digest() == source.digest())
        #expect(daemon.stop() == 0)
        #expect(sourceDaemon.stop() == 0)
    }
}
