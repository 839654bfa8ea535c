@preconcurrency import Crypto
import Foundation
import VellumCore
import VellumNode
import VellumWire

/// `vellum-bench attack DATA MESSAGES`: a hostile load on the running node of DATA (Scripts/hostile
/// measures status queries meanwhile). From keys the node allows: malformed, oversized, replayed
/// and forged messages, a forged fork and a flood of valid-looking WANTs; over HTTP: stalled and
/// half-open connections and 1 MiB bodies. Prints what it sent, by kind.
enum HostileLoad {
    static let attackers = 16

    static func run(data: String, messages: Int) async throws {
        let node = try Node.open(at: data)
        let endpoint = try String(contentsOfFile: data + "/node.endpoint", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let http = try String(contentsOfFile: data + "/http.endpoint", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let keys = try (0..<(attackers + 1)).map { _ in try CurveKeyPair.generate() }
        for k in keys { try node.addPeer(address: "tcp://127.0.0.1:9", key: k.publicKey) }
        try await Task.sleep(for: .milliseconds(1500))  // the node re-reads its allow-list twice a second

        let server = node.transport.publicKey
        let head = try node.store.heads()[node.feed]
        let forger = Curve25519.Signing.PrivateKey()
        let did = try DIDKey(publicKey: Array(forger.publicKey.rawRepresentation))
        var writer = FeedWriter(key: forger, head: nil, clock: HLC(rawValue: 0))
        let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)
        let forged = writer.append(
            (0..<20).map { i in
                (.issue, .issue(IssuePayload(
                    credentialID: "urn:uuid:00000000-0000-4000-8000-\(String(format: "%012d", i))", digest: String(repeating: "a", count: 64),
                    issuer: did.did, achievementID: "urn:uuid:x", achievementName: "Forged", achievementType: "Badge",
                    validFrom: "2026-01-01T00:00:00Z", validUntil: nil, statusListIndex: i, subjectCommitment: String(repeating: "b", count: 64))))
            }, now: now
        ).map(\.verified.entry)
        var other = FeedWriter(key: forger, head: nil, clock: HLC(rawValue: 5))
        let twin = other.append([(.revoke, .status(StatusPayload(credentialID: "urn:uuid:twin")))], now: now).first.map(\.verified.entry)

        // What each attacker sends, cycling: a mix of everything a hostile peer could.
        let flipped = forged.map { Entry(unsigned: $0.unsigned, id: $0.id, signature: $0.signature.map { $0 ^ 0x20 }) }
        let own = head.map { SyncMessage.want([WantRange(feed: $0.feed, fromSeq: 1, limit: 2000)]) }
        let kinds: [(String, [[UInt8]])] = [
            ("malformed", [[9, 9, 9]]),
            ("unknown version", [[2, 1, 0, 0, 0, 1], []]),
            ("truncated", [[1, 3, 0, 0, 0, 1], [0, 0, 0, 5, 1, 2]]),
            ("forged signature", SyncMessage.entries(Array(flipped.prefix(5))).frames(requestID: 1)),
            ("unlinked", SyncMessage.entries([forged[3]]).frames(requestID: 1)),
            ("error as request", SyncMessage.error(code: 400, message: "no").frames(requestID: 1)),
        ] + (twin.map { [("forged fork", SyncMessage.fork(forged[0], $0).frames(requestID: 1))] } ?? [])
        let oversized: [[UInt8]] = [[1, 3, 0, 0, 0, 1], [UInt8](repeating: 0, count: 5 << 20)]

        var sent: [String: Int] = [:]
        let perAttacker = messages / attackers
        try await withThrowingTaskGroup(of: [String: Int].self) { group in
            for a in 0..<attackers {
                group.addTask {
                    let reactor = try WireReactor()
                    defer { reactor.shutdown() }
                    let socket = try await reactor.connectDealer(endpoint, serverKey: server, curve: keys[a])
                    let drain = Drain(reactor)
                    defer { drain.task.cancel() }
                    var counts: [String: Int] = [:]
                    for i in 0..<perAttacker {
                        // Attacker 0 replays entries the node holds; the rest cycle through the kinds,
                        // after one oversized message each.
                        let (kind, frames) = a == 0 ? ("replayed", SyncMessage.entries(Array(forged.prefix(2))).frames(requestID: UInt32(i)))
                            : i == 0 ? ("oversized (5 MiB)", oversized) : kinds[(i + a) % kinds.count]
                        if await send(frames, reactor, socket) { counts[kind, default: 0] += 1 }
                    }
                    await drain.quiet()
                    return counts
                }
            }
            // The WANT flood: valid-looking requests for the node's whole feed, as fast as they go.
            group.addTask {
                guard let own else { return [:] }
                let reactor = try WireReactor()
                defer { reactor.shutdown() }
                let socket = try await reactor.connectDealer(endpoint, serverKey: server, curve: keys[attackers])
                let drain = Drain(reactor)
                defer { drain.task.cancel() }
                var count = 0
                for i in 0..<(messages / 5) where await send(own.frames(requestID: UInt32(i)), reactor, socket) { count += 1 }
                await drain.quiet()
                return ["WANT flood": count]
            }
            group.addTask { ["HTTP stalled, half-open and 1 MiB": try await httpAbuse(http)] }
            for try await counts in group { sent.merge(counts, uniquingKeysWith: +) }
        }
        for (kind, count) in sent.sorted(by: { $0.key < $1.key }) { print("attack: sent \(count) \(kind)") }
        print("attack: sent \(sent.values.reduce(0, +)) in all, from \(attackers + 1) allowed keys")
    }

    /// Reads and drops the node's replies, so that the attack waits for the node to get
    /// through what it was sent (closing the socket earlier would discard what is queued).
    final class Drain: @unchecked Sendable {
        private let lock = NSLock()
        private var last = Date()
        var task: Task<Void, Never>!

        init(_ reactor: WireReactor) {
            task = Task { [self] in
                while !Task.isCancelled {
                    if await reactor.receive(within: 0.1) != nil { lock.withLock { last = Date() } }
                }
            }
        }

        /// Returns once no reply came for 2 s (at most 60 s): a banned key gets none at all.
        func quiet() async {
            let end = Date().addingTimeInterval(60)
            while Date() < end, lock.withLock({ Date().timeIntervalSince(last) }) < 2 { try? await Task.sleep(for: .milliseconds(100)) }
        }
    }

    /// Sends once the connection is up (a DEALER refuses sends before): tries for up to 0.5 s.
    /// False when it never went out, as once the node has banned the key and refuses it.
    static func send(_ frames: [[UInt8]], _ reactor: WireReactor, _ socket: SocketID) async -> Bool {
        let deadline = Date().addingTimeInterval(0.5)
        while (try? await reactor.send(frames, on: socket)) == nil {
            guard Date() < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// 64 connections that send half a request and stall, 64 that send nothing, and 16 requests
    /// with a 1 MiB body; returns how many were made. The stalled ones are held 3 s.
    static func httpAbuse(_ url: String) async throws -> Int {
        guard let port = UInt16(url.split(separator: ":").last ?? "") else { throw VellumError(.invalidInput, "bad HTTP endpoint \(url)") }
        var open: [Int32] = []
        defer { for fd in open { close(fd) } }
        for i in 0..<128 {
            guard let fd = connectLoopback(port) else { continue }
            open.append(fd)
            if i % 2 == 0 { send(fd, Array("GET /v1/credentials/urn:uuid:x/sta".utf8)) }
        }
        let body = "{\"credential\":\"" + String(repeating: "A", count: 1 << 20) + "\"}"
        for _ in 0..<16 {
            guard let fd = connectLoopback(port) else { continue }
            open.append(fd)
            send(fd, Array("POST /credentials/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8))
        }
        try await Task.sleep(for: .seconds(3))
        return open.count
    }

    static func connectLoopback(_ port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }  // the server closed it: what a 413 or a timeout does
            done += n
        }
    }
}
