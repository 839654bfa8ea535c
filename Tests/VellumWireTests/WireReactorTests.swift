import Foundation
import Testing
import VellumWire

/// Waits for the next message, failing after `seconds`.
func receive(_ reactor: WireReactor, within seconds: Double = 5) async -> WireMessage? {
    await reactor.receive(within: seconds)
}

@Suite("ZeroMQ reactor: one thread owns every socket")
struct WireReactorTests {
    @Test("request and reply over inproc, ROUTER to DEALER and back")
    func inproc() async throws {
        let reactor = try WireReactor()
        defer { reactor.shutdown() }
        let (router, endpoint) = try await reactor.bindRouter("inproc://wire-test", curve: nil)
        #expect(endpoint == "inproc://wire-test")
        let dealer = try await reactor.connectDealer(endpoint, serverKey: nil, curve: nil)
        try await reactor.send([Array("hello".utf8), [1, 2, 3]], on: dealer)
        let request = try #require(await receive(reactor))
        #expect(request.socket == router && request.frames == [Array("hello".utf8), [1, 2, 3]])
        try await reactor.send([Array("world".utf8)], on: router, to: request.routingID)
        let reply = try #require(await receive(reactor))
        #expect(reply.socket == dealer && reply.frames == [Array("world".utf8)])
    }

    @Test("CURVE over tcp://127.0.0.1: an allowed key gets through and is named; an unknown key gets nothing")
    func curve() async throws {
        let server = try WireReactor(), client = try WireReactor(), stranger = try WireReactor()
        defer { server.shutdown(); client.shutdown(); stranger.shutdown() }
        let serverKeys = try CurveKeyPair.generate(), clientKeys = try CurveKeyPair.generate(), strangerKeys = try CurveKeyPair.generate()
        await server.setAllowedKeys([clientKeys.publicKey])
        let (_, endpoint) = try await server.bindRouter("tcp://127.0.0.1:0", curve: serverKeys)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":0"))

        let bad = try await stranger.connectDealer(endpoint, serverKey: serverKeys.publicKey, curve: strangerKeys)
        let good = try await client.connectDealer(endpoint, serverKey: serverKeys.publicKey, curve: clientKeys)
        // The stranger's handshake is refused, so its send never finds a connected peer.
        for _ in 0..<50 {
            if (try? await client.send([[42]], on: good)) != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let message = try #require(await receive(server))
        #expect(message.frames == [[42]])
        #expect(message.peerKey == clientKeys.publicKey)
        await #expect(throws: ZMQError.self) { try await stranger.send([[1]], on: bad) }
        #expect(await server.refusedCount() >= 1)
    }

    @Test("an oversized message drops its connection, and the reactor keeps serving")
    func maxMessageSize() async throws {
        var options = WireOptions()
        options.maxMessageSize = 1024
        let server = try WireReactor(options: options), client = try WireReactor()
        defer { server.shutdown(); client.shutdown() }
        let (_, endpoint) = try await server.bindRouter("tcp://127.0.0.1:0", curve: nil)
        let big = try await client.connectDealer(endpoint, serverKey: nil, curve: nil)
        let small = try await client.connectDealer(endpoint, serverKey: nil, curve: nil)
        try await Task.sleep(for: .milliseconds(200))
        try? await client.send([[UInt8](repeating: 7, count: 4096)], on: big)
        try await client.send([[1]], on: small)
        let message = try #require(await receive(server))
        #expect(message.frames == [[1]])
    }

    @Test("a full inbox stops reading instead of dropping: every message arrives, in order")
    func backPressure() async throws {
        var options = WireOptions()
        options.inboundCapacity = 4
        let reactor = try WireReactor(options: options)
        defer { reactor.shutdown() }
        let (_, endpoint) = try await reactor.bindRouter("inproc://pressure", curve: nil)
        let dealer = try await reactor.connectDealer(endpoint, serverKey: nil, curve: nil)
        for i in 0..<200 { try await reactor.send([withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) }], on: dealer) }
        try await Task.sleep(for: .milliseconds(100))
        for i in 0..<200 {
            let m = try #require(await receive(reactor))
            #expect(m.frames[0] == withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) })
        }
    }

    @Test("shutdown with open sockets and a waiting receiver returns promptly")
    func shutdown() async throws {
        let reactor = try WireReactor()
        _ = try await reactor.bindRouter("tcp://127.0.0.1:0", curve: nil)
        _ = try await reactor.connectDealer("tcp://127.0.0.1:1", serverKey: nil, curve: nil)
        async let waiting = reactor.receive()
        try await Task.sleep(for: .milliseconds(50))
        reactor.shutdown()
        #expect(await waiting == nil)
        await #expect(throws: ZMQError.self) { try await reactor.bindRouter("inproc://after", curve: nil) }
    }

    @Test("Z85 keys round-trip and malformed keys are rejected")
    func keys() throws {
        let pair = try CurveKeyPair.generate()
        #expect(try CurveKeyPair.publicKey(forSecret: pair.secretKey) == pair.publicKey)
        let bytes = try #require(CurveKeyPair.decode(pair.publicKey))
        #expect(CurveKeyPair.encode(bytes) == pair.publicKey)
        #expect(!CurveKeyPair.isValidKey("too short"))
    }
}
