import Foundation
import Testing
import VellumCore

/// Runs the real `vellum` executable, as a user would.
struct VellumProcess {
    struct Result {
        let code: Int32
        let stdout: String
        let stderr: String
        var json: JSON { try! JSON(parsing: stdout) }
    }

    /// `$VELLUM_BIN` (set by Scripts/test), else the `vellum` beside the test bundle.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["VELLUM_BIN"] { return path }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundle, bundle.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("vellum").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return bundle.appendingPathComponent("vellum").path
    }()

    /// The node's data directory; empty for commands that work on files alone (`org`, ...).
    let data: String

    /// For `vellum org …` and `vellum federation create|sign`: no data directory.
    static let files = VellumProcess(data: "")

    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil, cwd: String? = nil, timeout: TimeInterval = 120) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments + (data.isEmpty ? [] : ["--data", data])
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                Issue.record("vellum \(arguments.joined(separator: " ")) timed out after \(timeout) s")
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        return Result(
            code: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8))
    }

    func digest() throws -> String {
        let r = try run(["digest"])
        #expect(r.code == 0, "digest failed: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A scratch directory for one test, removed afterwards.
final class Scratch: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("vellum-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func node(_ name: String = "node") -> VellumProcess { VellumProcess(data: path + "/" + name) }
    func file(_ name: String) -> String { path + "/" + name }
    func write(_ name: String, _ text: String) throws { try text.write(toFile: file(name), atomically: true, encoding: .utf8) }
    func read(_ name: String) throws -> String { try String(contentsOfFile: file(name), encoding: .utf8) }

    /// A node with `name`, initialized.
    func initializedNode(_ name: String = "node", institution: String = "Example University") throws -> VellumProcess {
        let node = self.node(name)
        let r = try node.run(["init", "--name", institution])
        #expect(r.code == 0, "init failed: \(r.stderr)")
        return node
    }
}

extension VellumProcess {
    /// Issues one credential into `file`, returning its id.
    func issue(subject: String = "did:example:alice", achievement: String = "Intro to Databases", out: String, extra: [String] = []) throws -> String {
        let r = try run(["issue", "--subject", subject, "--achievement", achievement, "--out", out] + extra)
        #expect(r.code == 0, "issue failed: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
