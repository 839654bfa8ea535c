import ArgumentParser
import Dispatch
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import VellumCore
import VellumHTTP
import VellumNode

struct Peer: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the allow-list of peers (CURVE keys). A running node applies changes within a second.",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: VellumCommand {
        static let configuration = CommandConfiguration(abstract: "Allow a peer and connect to it.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The peer's address, tcp://HOST:PORT.") var address: String
        @Option(parsing: .unconditional, help: "The peer's transport key (Z85, from 'vellum id' on the peer).") var key: String
        func execute() throws {
            try data.open().addPeer(address: address, key: key)
            print("added peer \(address) (\(key))")
        }
    }

    struct List: VellumCommand {
        static let configuration = CommandConfiguration(abstract: "List allowed peers.")
        @OptionGroup var data: DataOptions
        @OptionGroup var output: OutputOptions
        func execute() throws {
            let peers = try data.open().peers()
            if output.json {
                Terminal.print(.array(peers.map { ["address": .string($0.address), "key": .string($0.key)] }))
            } else {
                for p in peers { print("\(p.address)  \(p.key)") }
            }
        }
    }

    struct Remove: VellumCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a peer from the allow-list.")
        @OptionGroup var data: DataOptions
        @Argument(help: "The peer's transport key.") var key: String?
        @Option(name: .customLong("key"), parsing: .unconditional, help: "The same, for a key that starts with '-'.")
        var keyOption: String?

        func validate() throws {
            guard (key == nil) != (keyOption == nil) else { throw ValidationError("give the peer's key, as KEY or --key KEY") }
        }

        func execute() throws {
            let key = (self.key ?? keyOption)!
            try data.open().removePeer(key: key)
            print("removed peer \(key)")
        }
    }
}

struct Forks: VellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "List fork evidence: two valid entries at one (feed, seq). Each pair is checkable by anyone.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    func execute() throws {
        let forks = try data.open().forks()
        if output.json {
            Terminal.print(.array(forks))
        } else if forks.isEmpty {
            print("no forks")
        } else {
            for f in forks { print("feed \(f["feed"]!.stringValue!) seq \(Int(f["seq"]!.numberValue!)): quarantined since \(f["found"]!.stringValue!)") }
        }
    }
}

struct Rejections: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "List messages and entries refused from peers, newest first.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    func execute() throws {
        let rows = try data.open().store.rejections()
        if output.json {
            Terminal.print(.array(rows.map { ["at": .string(Timestamp(millisecondsSinceEpoch: $0.0).rfc3339), "peer": .string($0.1), "reason": .string($0.2)] }))
        } else {
            for r in rows { print("\(Timestamp(millisecondsSinceEpoch: r.0).rfc3339)  \(r.1.prefix(8))  \(r.2)") }
        }
    }
}

/// An async command whose failures print one line on stderr and exit non-zero.
protocol AsyncVellumCommand: AsyncParsableCommand {
    func execute() async throws
}

extension AsyncVellumCommand {
    func run() async throws {
        do { try await execute() } catch { try report(error) }
    }
}

/// Writes one line of the node's log. Control characters are escaped (`NodeLogHandler.oneLine`):
/// what a peer or a client sends (a peer's `ERROR` text, a request's path) cannot start a
/// line of its own.
func logLine(_ text: String) {
    Terminal.error("\(Timestamp(millisecondsSinceEpoch: Node.systemClock().millisecondsSinceEpoch).rfc3339) \(NodeLogHandler.oneLine(text))")
}

struct NodeDaemon: AsyncVellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run the node until SIGINT or SIGTERM: gossip over CURVE-encrypted ZeroMQ, and (with --http) serve the HTTP API.")
    @OptionGroup var data: DataOptions
    @Option(help: "Where to accept peers (tcp://127.0.0.1:0 picks a free port).") var listen = "tcp://127.0.0.1:7700"
    @Option(help: "Also serve HTTP (status, verify, status lists, metrics, verifier page) at HOST:PORT; port 0 picks one.")
    var http: String?
    @Option(
        name: .customLong("http-idle-timeout"),
        help: "Close an HTTP connection that sends no complete request, or no whole body, within this many seconds (default 20).")
    var httpIdleTimeout: Double = 20
    @Option(
        name: .customLong("http-max-connections"),
        help: "Serve at most this many HTTP connections at once (default: half the open-file limit, at most 4096).")
    var httpMaxConnections: Int?

    func execute() async throws {
        try Node.validatePeerAddress(listen, listening: true)
        let httpAddress = try http.map(Self.hostAndPort)
        guard httpIdleTimeout > 0, httpIdleTimeout <= 3_600 else {
            throw VellumError(.invalidInput, "--http-idle-timeout \(httpIdleTimeout) is not between 0 and 3600 seconds")
        }
        if let httpMaxConnections, httpMaxConnections < 1 {
            throw VellumError(.invalidInput, "--http-max-connections \(httpMaxConnections) is not a positive number")
        }
        LoggingSystem.bootstrap { NodeLogHandler(label: $0) }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "vellum")

        if case let offset = try Node.clockOffsetSeconds(), offset != 0 {
            logLine("VELLUM_CLOCK_OFFSET: this node's clock runs \(offset) s off the system clock (fault injection)")
        }
        let replicator = try Replicator(dataPath: data.path, log: { logLine($0) })
        let endpoint = try await replicator.listen(listen)
        try writeOutput(endpoint + "\n", to: data.path + "/node.endpoint", replace: true)
        FileHandle.standardOutput.write(Data("listening on \(endpoint)\n".utf8))  // unbuffered: scripts wait for it
        var services: [any Service] = [ReplicatorService(replicator)]
        if let (host, port) = httpAddress {
            let idleTimeout = Duration.milliseconds(Int64(httpIdleTimeout * 1_000))
            let api = try VellumAPI(dataPath: data.path, registry: registry, bodyDeadline: idleTimeout)
            var limits = HTTPServerLimits.forThisProcess(idleTimeout: idleTimeout)
            if let httpMaxConnections { limits.maxConnections = min(limits.maxConnections, httpMaxConnections) }
            let path = data.path
            services.append(Application(
                router: api.router(), server: limits.server, configuration: limits.configuration(host: host, port: port, logger: logger),
                onServerRunning: { channel in
                    let url = "http://\(host):\(channel.localAddress?.port ?? port)"
                    try? writeOutput(url + "\n", to: path + "/http.endpoint", replace: true)
                    FileHandle.standardOutput.write(Data("http on \(url)\n".utf8))
                },
                logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do { try await group.run() } catch { logLine("stopped on error: \(error)") }
        for file in ["node.endpoint", "http.endpoint"] { try? FileManager.default.removeItem(atPath: data.path + "/" + file) }
        logLine("stopped")
    }

    /// `HOST:PORT` for --http.
    static func hostAndPort(_ text: String) throws(VellumError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
            colon != text.startIndex
        else { throw VellumError(.invalidInput, "--http '\(text)' is not HOST:PORT (for example 127.0.0.1:8080)") }
        return (String(text[..<colon]), port)
    }
}

extension Sync {
    /// Sync rounds until one moves nothing: both sides then hold the same entries.
    static func reconcile(
        _ replicator: Replicator, key: String, progress: @escaping @Sendable (Int, Int) -> Void
    ) async throws -> SyncReport {
        var total = SyncReport()
        for _ in 0..<1000 {
            let round = try await replicator.syncRound(with: key, progress: progress)
            total.pulled += round.pulled
            total.pushed += round.pushed
            total.roundTrips += round.roundTrips
            total.bytesSent += round.bytesSent
            total.bytesReceived += round.bytesReceived
            total.forks += round.forks
            if round.pulled == 0 && round.pushed == 0 { break }
        }
        return total
    }
}

struct Sync: AsyncVellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconcile once, both ways, with one peer; exit 0 once both hold the same entries.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The peer's address, tcp://HOST:PORT.") var peer: String
    @Option(parsing: .unconditional, help: "The peer's transport key (default: from the allow-list).") var key: String?

    func execute() async throws {
        try Node.validatePeerAddress(peer)
        let replicator = try Replicator(dataPath: data.path, log: { logLine($0) })
        let node = try data.open()
        let listed = try node.peers().first { $0.address == peer }?.key
        guard let key = key ?? listed else {
            throw VellumError(.notFound, "no key for \(peer): add it with 'vellum peer add \(peer) --key KEY' or pass --key")
        }
        await replicator.start()
        let total: SyncReport
        do {
            try await replicator.connect(address: peer, key: key)
            let bar = ProgressBar(total: 0, label: "syncing", enabled: Terminal.stderrIsTerminal && !output.json)
            total = try await Self.reconcile(replicator, key: key) { done, all in bar.update(done, of: all) }
            bar.finish()
        } catch {
            await replicator.shutdown()
            throw error
        }
        await replicator.shutdown()
        if output.json {
            Terminal.print(total.json)
        } else {
            print("synced with \(peer): pulled \(total.pulled), pushed \(total.pushed) entries in \(total.roundTrips) round trips (\(total.bytesSent) B sent, \(total.bytesReceived) B received)")
        }
    }
}
