import Foundation
import Testing
import VellumCore
import VellumWire

/// A running `vellum node` daemon on 127.0.0.1 with a port picked at start-up.
final class NodeProcess: @unchecked Sendable {
    let cli: VellumProcess
    let process = Process()
    private(set) var endpoint = ""
    /// The HTTP base URL, when started with `http: true`.
    private(set) var httpURL = ""
    let logPath: String

    /// Starts the daemon and waits (bounded) until it reports its endpoint(s).
    init(_ cli: VellumProcess, http: Bool = false, arguments: [String] = []) throws {
        self.cli = cli
        logPath = cli.data + ".log"
        process.executableURL = URL(fileURLWithPath: VellumProcess.binary)
        process.arguments = ["node", "--data", cli.data, "--listen", "tcp://127.0.0.1:0"] + (http ? ["--http", "127.0.0.1:0"] : []) + arguments
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        for file in ["node.endpoint", "http.endpoint"] { try? FileManager.default.removeItem(atPath: cli.data + "/" + file) }
        try process.run()
        func read(_ file: String) -> String? {
            guard let text = try? String(contentsOfFile: cli.data + "/" + file, encoding: .utf8), text.hasSuffix("\n") else { return nil }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let zmq = read("node.endpoint"), !http || read("http.endpoint") != nil {
                endpoint = zmq
                httpURL = http ? read("http.endpoint")! : ""
                return
            }
            usleep(20_000)
        }
        process.terminate()
        throw VellumError(.io, "vellum node in \(cli.data) did not start: \((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")")
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }

    /// SIGTERM and wait (bounded) for a clean exit.
    @discardableResult
    func stop() -> Int32 {
        process.terminate()
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            Issue.record("vellum node did not stop within 15 s")
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

extension VellumProcess {
    var transportKey: String { try! run(["id", "--json"]).json["transportKey"]!.stringValue! }

    /// Puts raw clients' keys on the allow-list (at a dead address: the node never dials them)
    /// and waits until a running node has re-read it (twice a second).
    func allow(_ keys: [CurveKeyPair]) async throws {
        for k in keys { #expect(try run(["peer", "add", "tcp://127.0.0.1:9", "--key=\(k.publicKey)"]).code == 0) }
        try await Task.sleep(for: .milliseconds(1500))
    }

    func addPeer(_ other: VellumProcess, at endpoint: String) throws {
        let r = try run(["peer", "add", endpoint, "--key=\(other.transportKey)"])
        #expect(r.code == 0, "\(r.stderr)")
    }

    /// How many entries the node holds (as its audit counts them).
    func count() throws -> Int {
        Int(try run(["audit", "--json"]).json["entries"]?.numberValue ?? -1)
    }

    /// How many credentials the node knows, of every issuer.
    func credentials() throws -> Int {
        Int(try run(["audit", "--json"]).json["credentials"]?.numberValue ?? -1)
    }
}

/// Polls `condition` every 100 ms for at most `seconds`; on a timeout, records it with the
/// logs of `nodes` (their daemons' output) to show why.
func eventually(_ seconds: Double = 30, _ what: String, logs nodes: [VellumProcess] = [], _ condition: () throws -> Bool) rethrows {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        usleep(100_000)
    }
    let logs = nodes.map { "--- \($0.data)\n" + ((try? String(contentsOfFile: $0.data + ".log", encoding: .utf8)) ?? "") }
    Issue.record("timed out after \(seconds) s waiting for \(what)\n\(logs.joined(separator: "\n"))")
}

/// Digests of several nodes, equal when they converged.
func digests(_ nodes: [VellumProcess]) throws -> Set<String> { Set(try nodes.map { try $0.digest() }) }
