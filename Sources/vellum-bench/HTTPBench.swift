import Foundation
import Hummingbird
import Logging
import VellumCore
import VellumHTTP
import VellumNode

/// The HTTP part of Scripts/bench: the script starts a real `vellum node --http` on a ledger
/// built here, and this process's bare Hummingbird endpoint as the limit, and loads both with wrk.
enum HTTPBench {
    /// `vellum-bench answers DIR IDS COUNT ROUNDS`: the CPU of a status answer alone, in
    /// process, on one thread: each round reads COUNT answers (`LedgerQueries.status`, then
    /// `canonicalBytes`) for ids drawn from the file IDS, and prints the time per answer. For
    /// A/B comparisons of the answer's code, without HTTP, the hop or wrk; not a bench row.
    static func answers(at path: String, ids: String, count: Int, rounds: Int) async throws {
        let reader = try LedgerReader(path: path)
        let known = try String(contentsOfFile: ids, encoding: .utf8).split(separator: "\n").map(String.init)
        guard !known.isEmpty, count > 0, rounds > 0 else { throw VellumError(.invalidInput, "answers: \(ids) holds no ids, or COUNT or ROUNDS is not positive") }
        for round in 1...rounds {
            let drawn = (0..<count).map { _ in known.randomElement()! }
            var bytes = 0
            let elapsed = try await seconds { for id in drawn { bytes += try reader.status(of: id).canonicalBytes.count } }
            print(String(format: "round %d: %.2f µs per answer, %d bytes per answer", round, elapsed * 1e6 / Double(count), bytes / count))
        }
    }

    /// `vellum-bench ledger DIR COUNT IDS [--federation]`: a node with COUNT credentials (1% of
    /// a sample revoked), a random sample of 10,000 of their ids in the file IDS (a hot set, as
    /// a registrar's recent cohort) and every id in IDS.all, for wrk to query. With
    /// `--federation`, a campus node of a one-university federation (its organization in
    /// DIR.org), delegated before it issues: its status answers carry the trust path.
    static func ledger(at path: String, count: Int, ids: String, federation: Bool) async throws {
        let node = try federation ? federationNode(at: path) : Node.create(at: path, name: "Bench University", baseURL: "https://bench.example.edu")
        let requests = (0..<count).map { i in
            CredentialRequest(subject: "student\(i)@example.edu", achievementName: "Course \(i % 40)", validUntil: Timestamp(parsing: "2031-01-01T00:00:00Z"))
        }
        var sample: [String] = []
        var all = ""
        var done = 0
        let start = Date()
        try await node.issue(requests) { batch in
            done += batch.count
            for c in batch {
                all += c.id + "\n"
                if Int.random(in: 0..<count) < 10_000 { sample.append(c.id) }
            }
            if done % 100_000 < batch.count || done == count {
                FileHandle.standardError.write(Data(String(format: "  ledger: %d of %d credentials (%.0f s)\n", done, count, Date().timeIntervalSince(start)).utf8))
            }
        }
        for id in sample.prefix(sample.count / 100) { try node.changeStatus(.revoke, of: id, reason: "bench") }
        try node.store.checkpoint()  // the node under test should not start by copying the WAL
        try (sample.joined(separator: "\n") + "\n").write(toFile: ids, atomically: true, encoding: .utf8)
        try all.write(toFile: ids + ".all", atomically: true, encoding: .utf8)
    }

    static func federationNode(at path: String) throws -> Node {
        _ = try OrgDirectory.create(at: path + ".org", name: "Bench University")
        let org = OrgDirectory(path: path + ".org")
        let genesis = Genesis(name: "Bench Federation", threshold: 1, founders: [try org.events()[0].org])
        var document = FederationDocument.genesis(genesis, events: [])
        if case .organization(let log) = try org.append(.endorsement(digest: genesis.digest)) {
            document = document.replacingEvents(of: log[0].org, with: log)
        }
        let node = try Node.create(at: path, name: "Bench Campus", baseURL: "https://campus.bench.example.edu", federation: document)
        try node.publish(try org.append(.delegation(Delegation(feed: node.feed, transport: node.transport.publicKey, endpoint: nil, until: nil))))
        return node
    }

    /// `vellum-bench bare-http FILE [BYTES] [--hop]`: a Hummingbird server whose one route, the
    /// status route's path, returns a fixed JSON body (`{"status":"active"}`, padded to BYTES
    /// bytes): what the framework, loopback and the load generator cost with no work behind
    /// them. `Scripts/bench` asks for the size of a real status answer and loads it with the
    /// same script and ids as the node: the requests and the bytes sent back are the same, and
    /// what differs is the node's work. With `--hop`, each request is handed to the node's
    /// handler threads (`HandlerThreads`, as many as a node starts) and back, with no work
    /// there: what that hop alone costs.
    static func bareServer(endpointFile: String, bodyBytes: Int, hop: Bool) async throws {
        let padding = bodyBytes - #"{"status":"active","padding":""}"#.utf8.count
        let body = padding > 0 ? #"{"status":"active","padding":""# + String(repeating: "x", count: padding) + #""}"# : #"{"status":"active"}"#
        let router = Router()
        let threads = hop ? HandlerThreads() : nil
        router.get("/v1/credentials/{id}/status") { _, _ in
            if let threads { try await threads.run {} }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                try? "http://127.0.0.1:\(channel.localAddress?.port ?? 0)\n".write(toFile: endpointFile, atomically: true, encoding: .utf8)
            },
            logger: {
                var logger = Logger(label: "bare")
                logger.logLevel = .warning
                return logger
            }())
        try await app.runService()
    }
}
