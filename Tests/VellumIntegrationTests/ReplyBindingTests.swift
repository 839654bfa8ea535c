import Foundation
import Testing
import VellumCore
import VellumWire

/// A raw protocol server (a CURVE ROUTER) that a real node connects to as one of its peers,
/// to answer as no honest node would.
struct RawServer {
    let reactor: WireReactor
    let socket: SocketID
    let endpoint: String
    let keys: CurveKeyPair

    init(allowing client: String) async throws {
        reactor = try WireReactor()
        keys = try CurveKeyPair.generate()
        (socket, endpoint) = try await reactor.bindRouter("tcp://127.0.0.1:0", curve: keys)
        await reactor.setAllowedKeys([client])
    }

    func send(_ message: SyncMessage, requestID: UInt32, to routingID: [UInt8]?) async {
        try? await reactor.send(message.frames(requestID: requestID), on: socket, to: routingID)
    }
}

@Suite("Replies are bound to their request and their connection", .serialized)
struct ReplyBindingTests {
    @Test("a malformed body gets an ERROR carrying its request's id; an ERROR sent as a request is not answered, and is counted")
    func refusalsNameTheirRequest() async throws {
        let scratch = try Scratch()
        let node = try scratch.initializedNode("target")
        let daemon = try NodeProcess(node, http: true)
        defer { daemon.stop() }
        let keys = try CurveKeyPair.generate()
        try await node.allow([keys])
        let peer = try await RawPeer(endpoint: daemon.endpoint, serverKey: node.transportKey, keys: keys)
        defer { peer.reactor.shutdown() }

        // WANT (type 2), request 0x01020304, whose body says 5 ranges and holds none.
        let truncated = await peer.exchange([[1, 2, 1, 2, 3, 4], [0, 0, 0, 5]])
        guard case (let id, .error(let code, let text))? = truncated else { Issue.record("a truncated WANT was not refused: \(String(describing: truncated))"); return }
        #expect(id == 0x0102_0304 && code == 400, "\(text)")
        // An unknown type and an unknown version name their request too.
        guard case (let id2, .error)? = await peer.exchange([[1, 9, 0, 0, 0, 77], []]) else { Issue.record("an unknown type was not refused"); return }
        #expect(id2 == 77)
        guard case (let id3, .error)? = await peer.exchange([[2, 1, 0, 0, 0, 78], []]) else { Issue.record("version 2 was not refused"); return }
        #expect(id3 == 78)

        // An ERROR is an answer, never a request: no reply at all, but a counted drop.
        #expect(await peer.exchange(SyncMessage.error(code: 500, message: "forged").frames(requestID: 99), within: 1.5) == nil)
        // The connection still serves.
        guard case (let id4, .heads)? = await peer.exchange(SyncMessage.heads([]).frames(requestID: 100)) else { Issue.record("the node stopped serving"); return }
        #expect(id4 == 100)

        let rejections = try node.run(["rejections", "--json"]).json.arrayValue ?? []
        let mine = rejections.filter { $0["peer"]?.stringValue == keys.publicKey }.compactMap { $0["reason"]?.stringValue }
        #expect(mine.contains { $0.contains("ERROR 500 sent as a request") }, "\(mine)")
        #expect(mine.filter { $0.contains("malformed") }.count == 3, "\(mine)")
        let (_, metrics) = try http("GET", "\(daemon.httpURL)/metrics")
        #expect(metrics.contains("vellum_rejected_total{reason=\"error-as-request\"} 1"), "\(metrics)")
        #expect(metrics.contains("vellum_rejected_total{reason=\"malformed\"} 3"), "\(metrics)")
    }

    @Test("a node syncing with two peers is not fooled by one answering with request ids of the other")
    func foreignAnswers() async throws {
        let scratch = try Scratch()
        let honest = try scratch.initializedNode("honest", institution: "North Campus")
        let target = try scratch.initializedNode("target", institution: "South Campus")
        let credentials = try (0..<3).map { try honest.issue(subject: "did:example:\($0)", out: scratch.file("\($0).json")) }
        let h = try NodeProcess(honest)
        defer { h.stop() }
        let t = try NodeProcess(target)
        defer { t.stop() }
        let liar = try await RawServer(allowing: target.transportKey)
        defer { liar.reactor.shutdown() }
        try honest.addPeer(target, at: t.endpoint)
        try target.addPeer(honest, at: h.endpoint)
        #expect(try target.run(["peer", "add", liar.endpoint, "--key=\(liar.keys.publicKey)"]).code == 0)

        // For every request the target sends it, the liar answers the neighbouring ids (where
        // a counter shared by every link would have put the honest peer's requests) with
        // ERRORs and with empty HEADS, then its own request.
        var forged = 0
        let until = Date().addingTimeInterval(8)
        while Date() < until {
            guard let request = await liar.reactor.receive(within: 0.5), let (id, message) = try? SyncMessage.decode(request.frames) else { continue }
            for d: UInt32 in 1...3 {
                for other in [id &+ d, id &- d] {
                    await liar.send(.error(code: 500, message: "forged"), requestID: other, to: request.routingID)
                    await liar.send(.heads([]), requestID: other, to: request.routingID)
                    forged += 2
                }
            }
            switch message {
            case .heads, .entries, .fork: await liar.send(.heads([]), requestID: id, to: request.routingID)
            case .want: await liar.send(.entries([]), requestID: id, to: request.routingID)
            case .offer: await liar.send(.want([]), requestID: id, to: request.routingID)
            case .summary: await liar.send(.headsIn(buckets: .max, []), requestID: id, to: request.routingID)
            case .error, .headsIn: break
            }
        }
        #expect(forged > 0, "the target never asked the liar anything")
        try eventually(20, "the target holding the honest feed", logs: [target]) {
            try credentials.allSatisfy { try target.run(["status", $0, "--json"]).json["status"]?.stringValue == "active" }
        }
        // Not one round with the honest peer failed, and the forgeries were dropped and counted
        // against the liar alone.
        let log = try String(contentsOfFile: target.data + ".log", encoding: .utf8)
        let honestKey = honest.transportKey
        #expect(!log.contains("sync with \(honestKey.prefix(8))"), "\(log)")
        let rejections = try target.run(["rejections", "--json"]).json.arrayValue ?? []
        #expect(rejections.allSatisfy { $0["peer"]?.stringValue == liar.keys.publicKey }, "\(rejections)")
        #expect(rejections.contains { $0["reason"]?.stringValue?.contains("did not send") == true }, "\(rejections)")
    }

    @Test("a peer from before OFFER (it answers OFFER as malformed) is pushed to unannounced: offered once, then sent ENTRIES in every later round, with nothing counted against it")
    func olderPeerPushedUnannounced() async throws {
        let scratch = try Scratch()
        let target = try scratch.initializedNode("target")
        _ = try (0..<3).map { try target.issue(subject: "did:example:\($0)", out: scratch.file("\($0).json")) }
        let older = try await RawServer(allowing: target.transportKey)
        defer { older.reactor.shutdown() }
        #expect(try target.run(["peer", "add", older.endpoint, "--key=\(older.keys.publicKey)"]).code == 0)
        let daemon = try NodeProcess(target)
        defer { daemon.stop() }
        // The older node holds nothing, refuses what it does not know, and takes what is pushed.
        // Listens until three rounds have pushed, the first after its refused offer and two
        // more unannounced (30 s at most, for a loaded machine).
        var received: [String] = []
        let until = Date().addingTimeInterval(30)
        while Date() < until, received.filter({ $0 == "ENTRIES" }).count < 3 {
            guard let request = await older.reactor.receive(within: 0.5), let (id, message) = try? SyncMessage.decode(request.frames) else { continue }
            received.append(message.name)
            switch message {
            case .summary: await older.send(.headsIn(buckets: .max, []), requestID: id, to: request.routingID)
            case .offer: await older.send(.error(code: 400, message: "unknown message type 8"), requestID: id, to: request.routingID)
            default: await older.send(.heads([]), requestID: id, to: request.routingID)
            }
        }
        #expect(received.filter { $0 == "OFFER" }.count == 1, "\(received)")
        #expect(received.filter { $0 == "ENTRIES" }.count >= 3, "three rounds pushed: \(received)")
        let rejections = try target.run(["rejections", "--json"]).json.arrayValue ?? []
        #expect(!rejections.contains { $0["peer"]?.stringValue == older.keys.publicKey }, "\(rejections)")
    }
}
